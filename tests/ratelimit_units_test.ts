/** Pure rate-limit building blocks: no network, deterministic clocks. */
import assert from "node:assert/strict";
import { BoundedEphemeralCache } from "../src/ratelimit/ephemeral_cache.ts";
import { rateLimitErrorDetail, rateLimitHeaders } from "../src/ratelimit/headers.ts";
import { LuaScriptCompat, sha1Hex, stripUnsupportedShebang } from "../src/ratelimit/lua_compat.ts";
import { MemoryRateLimiterStore } from "../src/ratelimit/memory_store.ts";
import { type LimitOutcome, type LimitWindow, mostConstrained } from "../src/ratelimit/outcome.ts";
import { DEFAULT_TIERS, parseRateLimitTiers, windowsFor } from "../src/ratelimit/tiers.ts";

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

Deno.test("tiers", async (t) => {
  await t.step("defaults when unset or blank", () => {
    assert.deepEqual(parseRateLimitTiers(undefined), {
      free: { per_minute: 60, per_day: 1000, tokens_per_day: 200_000 },
      pro: { per_minute: 600, per_day: 20000, tokens_per_day: 5_000_000 },
      enterprise: { per_minute: 1000, per_day: 100000, tokens_per_day: 50_000_000 },
    });
    assert.deepEqual(parseRateLimitTiers("  "), parseRateLimitTiers(undefined));
  });

  await t.step("partial JSON merges over defaults, field by field", () => {
    const tiers = parseRateLimitTiers(
      '{"free": {"per_minute": 30}, "startup": {"per_minute": 300, "per_day": 5000}}',
    );
    assert.deepEqual(tiers.free, { per_minute: 30, per_day: 1000, tokens_per_day: 200_000 });
    assert.deepEqual(tiers.pro, { per_minute: 600, per_day: 20000, tokens_per_day: 5_000_000 });
    assert.deepEqual(tiers.startup, { per_minute: 300, per_day: 5000, tokens_per_day: 200_000 });
    // Defaults themselves are never mutated.
    assert.deepEqual(DEFAULT_TIERS.free, {
      per_minute: 60,
      per_day: 1000,
      tokens_per_day: 200_000,
    });
  });

  await t.step("spend quotas: tokens_per_day and optional USD per day / month", () => {
    const tiers = parseRateLimitTiers(
      '{"free": {"tokens_per_day": 5000, "usd_per_day": 0.25, "usd_per_month": 3}}',
    );
    assert.deepEqual(tiers.free, {
      per_minute: 60,
      per_day: 1000,
      tokens_per_day: 5000,
      usd_per_day: 0.25,
      usd_per_month: 3,
    });
    assert.throws(() => parseRateLimitTiers('{"free": {"usd_per_day": 0}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers('{"free": {"usd_per_day": 0.0000001}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers('{"free": {"tokens_per_day": 1.5}}'), /invalid/);
  });

  await t.step("invalid input fails loudly", () => {
    assert.throws(() => parseRateLimitTiers("{nope"), /not valid JSON/);
    assert.throws(() => parseRateLimitTiers('{"free": {"per_minute": -1}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers('{"free": {"per_minute": 1.5}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers('{"free": {"per_minute": "60"}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers('{"free": {"per_hour": 5}}'), /invalid/);
    assert.throws(() => parseRateLimitTiers("[1]"), /invalid/);
    assert.throws(
      () => parseRateLimitTiers('{"new": {"per_minute": 5}}'),
      /per_minute and per_day/,
    );
    assert.throws(() => parseRateLimitTiers('{"constructor": {"per_day": 5}}'), /per_day/);
    assert.throws(() => parseRateLimitTiers('{"bad name!": {"per_minute": 5, "per_day": 9}}'));
  });

  await t.step("windowsFor", () => {
    assert.deepEqual(windowsFor({ per_minute: 60, per_day: 1000 }), [
      { name: "minute", limit: 60, windowSeconds: 60 },
      { name: "day", limit: 1000, windowSeconds: 86_400 },
    ]);
  });
});

Deno.test("lua shebang compatibility", async (t) => {
  const body = "\n  local key = KEYS[1]\n  return redis.call('INCR', key)\n";
  const upstashScript = `#!lua flags=allow-key-locking${body}`;

  await t.step("strips Upstash-only flags, keeps line numbering and standard flags", () => {
    assert.equal(stripUnsupportedShebang(upstashScript), body);
    assert.equal(
      stripUnsupportedShebang(`#!lua flags=no-writes,allow-key-locking${body}`),
      `#!lua flags=no-writes${body}`,
    );
    assert.equal(
      stripUnsupportedShebang(`#!lua flags=no-writes${body}`),
      `#!lua flags=no-writes${body}`,
    );
    assert.equal(stripUnsupportedShebang(body), body);
    assert.equal(stripUnsupportedShebang("#!lua flags=allow-key-locking"), "");
  });

  await t.step("EVAL teaches the SHA mapping used by EVALSHA and SCRIPT EXISTS", () => {
    const compat = new LuaScriptCompat();
    const originalSha = sha1Hex(upstashScript);
    // Unknown SHA passes through (Redis will answer NOSCRIPT, the library falls back to EVAL).
    assert.deepEqual(compat.prepare(["evalsha", originalSha, "1", "k"]).args, [
      "evalsha",
      originalSha,
      "1",
      "k",
    ]);
    assert.deepEqual(compat.prepare(["eval", upstashScript, "1", "k"]).args, [
      "eval",
      body,
      "1",
      "k",
    ]);
    assert.deepEqual(compat.prepare(["EVALSHA", originalSha.toUpperCase(), "0"]).args, [
      "EVALSHA",
      sha1Hex(body),
      "0",
    ]);
    assert.deepEqual(compat.prepare(["script", "exists", originalSha, "abc"]).args, [
      "script",
      "exists",
      sha1Hex(body),
      "abc",
    ]);
  });

  await t.step("SCRIPT LOAD returns the caller's SHA, not the rewritten one", () => {
    const compat = new LuaScriptCompat();
    const prepared = compat.prepare(["script", "load", upstashScript]);
    assert.deepEqual(prepared.args, ["script", "load", body]);
    assert.equal(prepared.mapReply(sha1Hex(body)), sha1Hex(upstashScript));
    assert.equal(compat.serverShaFor(sha1Hex(upstashScript)), sha1Hex(body));
  });

  await t.step("other commands are untouched", () => {
    const compat = new LuaScriptCompat();
    assert.deepEqual(compat.prepare(["set", "#!lua flags=allow-key-locking", "1"]).args, [
      "set",
      "#!lua flags=allow-key-locking",
      "1",
    ]);
  });
});

Deno.test("memory store sliding window (injected clock)", async (t) => {
  const size = 60_000;
  const windowStart = 1_700_000_040_000; // a multiple of 60 s
  assert.equal(windowStart % size, 0);
  const window: LimitWindow = { name: "minute", limit: 10, windowSeconds: 60 };

  await t.step("fills the current window, then weights the previous one", async () => {
    let now = windowStart + 1_000;
    const store = new MemoryRateLimiterStore({ now: () => now });
    const first = [];
    for (let i = 0; i < 11; i++) first.push(await store.limit("p", window, "id"));
    assert.deepEqual(first.map((o) => o.success), [...Array(10).fill(true), false]);
    assert.deepEqual(first.slice(0, 10).map((o) => o.remaining), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert.ok(first.every((o) => o.reset === windowStart + size && !o.timedOut));

    // Halfway through the next window, floor(0.5 * 10) = 5 of the previous requests still count.
    now = windowStart + size + size / 2;
    const second = [];
    for (let i = 0; i < 6; i++) second.push(await store.limit("p", window, "id"));
    assert.deepEqual(second.map((o) => o.success), [true, true, true, true, true, false]);
    assert.deepEqual(second.slice(0, 5).map((o) => o.remaining), [4, 3, 2, 1, 0]);
    assert.equal(second[0]?.reset, windowStart + 2 * size);

    // Two windows later nothing carries over.
    now = windowStart + 3 * size;
    assert.equal((await store.limit("p", window, "id")).remaining, 9);
    await store.close();
  });

  await t.step("policies, windows and identifiers are independent", async () => {
    const now = windowStart;
    const store = new MemoryRateLimiterStore({ now: () => now });
    const tiny: LimitWindow = { name: "minute", limit: 1, windowSeconds: 60 };
    assert.equal((await store.limit("a", tiny, "x")).success, true);
    assert.equal((await store.limit("a", tiny, "x")).success, false);
    assert.equal((await store.limit("b", tiny, "x")).success, true);
    assert.equal((await store.limit("a", tiny, "y")).success, true);
    assert.equal((await store.limit("a", { ...tiny, windowSeconds: 3600 }, "x")).success, true);
    await store.close();
  });

  await t.step(
    "memory stays bounded: expired counters are swept, key count is capped",
    async () => {
      let now = windowStart;
      const store = new MemoryRateLimiterStore({
        now: () => now,
        maxKeys: 3,
        sweepIntervalMs: 1_000,
      });
      for (const id of ["a", "b", "c", "d", "e"]) await store.limit("p", window, id);
      assert.equal(store.size, 3);
      now += 2 * size + 1;
      await store.limit("p", window, "z");
      assert.equal(store.size, 1);
      await store.close();
    },
  );

  await t.step("invalid windows are rejected, not silently allowed", async () => {
    const store = new MemoryRateLimiterStore();
    await assert.rejects(store.limit("p", { ...window, windowSeconds: 0 }, "id"), RangeError);
    await assert.rejects(store.limit("p", { ...window, limit: -1 }, "id"), RangeError);
    await store.close();
  });
});

Deno.test("bounded ephemeral cache evicts the oldest entry", () => {
  const cache = new BoundedEphemeralCache(2);
  cache.set("a", 1).set("b", 2).set("a", 3).set("c", 4);
  // Updating "a" does not refresh it: eviction is by first insertion.
  assert.deepEqual([...cache.entries()], [["b", 2], ["c", 4]]);
  assert.ok(cache instanceof Map);
});
