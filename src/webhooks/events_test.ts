import assert from "node:assert/strict";
import { eventBody, thresholdsReached } from "./events.ts";

Deno.test("thresholdsReached: inclusive, exact on 6-decimal amounts, several at once", () => {
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 499 }), []);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 500 }), [50]);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 800 }), [50, 80]);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 1500 }), [50, 80, 100]);
  assert.deepEqual(thresholdsReached({ limit: 0.3, used: 0.24 }), [50, 80]);
  assert.deepEqual(thresholdsReached({ limit: 0.1, used: 0.049999 }), []);
  assert.deepEqual(thresholdsReached({ limit: 0, used: 5 }), []);
});

Deno.test("eventBody is the Standard Webhooks {type, timestamp, data} JSON", () => {
  const body = eventBody("webhook.test", new Date("2026-11-30T12:00:00.000Z"), { a: 1 });
  assert.equal(
    body,
    '{"type":"webhook.test","timestamp":"2026-11-30T12:00:00.000Z","data":{"a":1}}',
  );
});
