import assert from "node:assert/strict";
import { DEFAULT_TIERS, parseRateLimitTiers, windowsFor } from "./tiers.ts";

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
