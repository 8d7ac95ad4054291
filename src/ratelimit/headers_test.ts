import assert from "node:assert/strict";
import { rateLimitErrorDetail, rateLimitHeaders } from "./headers.ts";
import { type LimitOutcome, type LimitWindow, mostConstrained } from "./outcome.ts";

const MINUTE: LimitWindow = { name: "minute", limit: 60, windowSeconds: 60 };
const DAY: LimitWindow = { name: "day", limit: 1000, windowSeconds: 86_400 };

function outcome(window: LimitWindow, patch: Partial<LimitOutcome>): LimitOutcome {
  return { window, success: true, remaining: window.limit, reset: 0, timedOut: false, ...patch };
}

Deno.test("headers", async (t) => {
  const now = 1_700_000_000_000;

  await t.step("allowed: X-RateLimit-* and IETF fields for the most constrained window", () => {
    const headers = rateLimitHeaders([
      outcome(MINUTE, { remaining: 12, reset: now + 32_200 }),
      outcome(DAY, { remaining: 400, reset: now + 3_600_000 }),
    ], now);
    assert.deepEqual(headers, {
      "X-RateLimit-Limit": "60",
      "X-RateLimit-Remaining": "12",
      "X-RateLimit-Reset": String(Math.ceil((now + 32_200) / 1000)),
      "RateLimit-Policy": '"minute";q=60;w=60, "day";q=1000;w=86400',
      "RateLimit": '"minute";r=12;t=33',
    });
  });

  await t.step("denied: Retry-After is whole seconds and at least 1", () => {
    const denied = rateLimitHeaders([
      outcome(MINUTE, { success: false, remaining: 0, reset: now + 1_500 }),
      outcome(DAY, { remaining: 10, reset: now + 3_600_000 }),
    ], now);
    assert.equal(denied["Retry-After"], "2");
    assert.equal(denied["X-RateLimit-Remaining"], "0");
    assert.equal(denied["RateLimit"], '"minute";r=0;t=2');

    const almostReset = rateLimitHeaders([
      outcome(MINUTE, { success: false, remaining: 0, reset: now + 10 }),
    ], now);
    assert.equal(almostReset["Retry-After"], "1");
    const pastReset = rateLimitHeaders([outcome(MINUTE, { success: false, reset: now - 5 })], now);
    assert.equal(pastReset["Retry-After"], "1");
    assert.equal(pastReset["RateLimit"], '"minute";r=60;t=0');
  });

  await t.step("denied by both windows: the later reset wins", () => {
    const headers = rateLimitHeaders([
      outcome(MINUTE, { success: false, remaining: 0, reset: now + 20_000 }),
      outcome(DAY, { success: false, remaining: 0, reset: now + 7_200_000 }),
    ], now);
    assert.equal(headers["Retry-After"], "7200");
    assert.equal(headers["X-RateLimit-Limit"], "1000");
    assert.equal(headers["RateLimit"], '"day";r=0;t=7200');
  });

  await t.step("no Retry-After when allowed; names are sf-string escaped", () => {
    const odd: LimitWindow = { name: 'we"ird\\', limit: 5, windowSeconds: 10 };
    const headers = rateLimitHeaders([outcome(odd, { remaining: 4, reset: now + 10_000 })], now);
    assert.equal(headers["Retry-After"], undefined);
    assert.equal(headers["RateLimit-Policy"], '"we\\"ird\\\\";q=5;w=10');
  });

  await t.step("429 detail uses the denying window, reset in unix seconds", () => {
    const detail = rateLimitErrorDetail([
      outcome(MINUTE, { remaining: 3, reset: now + 1_000 }),
      outcome(DAY, { success: false, remaining: 0, reset: now + 50_500 }),
    ], "api_key");
    assert.deepEqual(detail, {
      policy: "day",
      scope: "api_key",
      limit: 1000,
      remaining: 0,
      reset: Math.ceil((now + 50_500) / 1000),
    });
  });

  await t.step("mostConstrained picks lowest remaining when nothing is denied", () => {
    const a = outcome(MINUTE, { remaining: 5, reset: 10 });
    const b = outcome(DAY, { remaining: 4, reset: 5 });
    assert.equal(mostConstrained([a, b]), b);
    assert.throws(() => mostConstrained([]), RangeError);
  });
});
