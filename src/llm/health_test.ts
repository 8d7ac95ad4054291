import assert from "node:assert/strict";
import { ModelHealth } from "./health.ts";

Deno.test("health: consecutive failures degrade, open the breaker, cool down and recover", () => {
  let now = 1_000_000;
  const h = new ModelHealth({ now: () => now }); // defaults: threshold 3, cooldown 30 s
  assert.equal(h.status, "available");
  h.recordFailure();
  assert.equal(h.status, "degraded");
  h.recordFailure();
  assert.equal(h.status, "degraded");
  h.recordFailure();
  assert.deepEqual(h.snapshot(), {
    status: "unavailable",
    latency_ms: null,
    consecutive_failures: 3,
    unavailable_until: now + 30_000,
  });
  now += 29_999;
  assert.equal(h.status, "unavailable");
  now += 1;
  assert.equal(h.status, "degraded", "cool-down over: next request probes it");
  h.recordFailure();
  assert.equal(h.status, "unavailable", "failed probe re-opens the breaker");
  now += 30_000;
  h.recordSuccess(100);
  assert.equal(h.status, "available");
  assert.equal(h.snapshot().consecutive_failures, 0);
  assert.equal(h.snapshot().unavailable_until, null);
  // a success in between resets the count
  h.recordFailure();
  h.recordFailure();
  h.recordSuccess(100);
  h.recordFailure();
  assert.equal(h.status, "degraded");
});

Deno.test("health: latency is an EWMA of successful calls", () => {
  const h = new ModelHealth({ latencyAlpha: 0.5 });
  assert.equal(h.latencyMs, null);
  h.recordSuccess(100);
  assert.equal(h.latencyMs, 100);
  h.recordSuccess(200);
  assert.equal(h.latencyMs, 150);
  h.recordFailure(); // failures do not move latency
  h.recordSuccess(50);
  assert.equal(h.latencyMs, 100);
});
