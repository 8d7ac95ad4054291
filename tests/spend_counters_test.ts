/**
 * The spend counters' semantics, identical on every backend: memory, and
 * (when TEST_REDIS_URL is set) the Lua script on Redis through the limiter's
 * own connection. Times are passed in, so no test waits on a clock.
 */
import assert from "node:assert/strict";
import { createRateLimiterStore } from "../src/ratelimit/limiter.ts";
import {
  type CounterSpec,
  MemorySpendCounters,
  ScriptSpendCounters,
  type SpendCounters,
} from "../src/spend/counters.ts";
import { TEST_REDIS_URL } from "./support/harness.ts";
import { deleteKeys } from "./support/redis_keys.ts";

async function eachBackend(
  t: Deno.TestContext,
  run: (counters: SpendCounters, key: (name: string) => string) => Promise<void>,
): Promise<void> {
  await t.step("memory", () => run(new MemorySpendCounters(), (n) => `mem:${n}`));
  if (!TEST_REDIS_URL) return;
  const prefix = `gh_test_${crypto.randomUUID().slice(0, 8)}`;
  const store = await createRateLimiterStore({ kind: "redis", url: TEST_REDIS_URL }, {
    timeoutMs: 2000,
    prefix,
  });
  try {
    await t.step(
      "redis (Lua script)",
      () => run(new ScriptSpendCounters("redis", store.scripts!), (n) => `${prefix}:${n}`),
    );
  } finally {
    await store.close();
    await deleteKeys(TEST_REDIS_URL, `${prefix}:*`);
  }
}

const NOW = Date.UTC(2026, 10, 30, 12);
const spec = (key: string, limit: number | null, amount: number, init: number | null = null) =>
  ({ key, limit, amount, init, expireAt: NOW / 1000 + 86_400 }) satisfies CounterSpec;

Deno.test("spend counters: missing, rebuilt, all-or-nothing, settled, expired", async (t) => {
  await eachBackend(t, async (counters, key) => {
    const a = key("a");
    const b = key("b");
    // Missing counters are reported, never read as zero.
    const missing = await counters.reserve([spec(a, 100, 10), spec(b, 50, 10)], null, NOW);
    assert.deepEqual(missing, { kind: "missing", missing: [0, 1] });

    // Rebuilt with the ledger's values, then reserved on both.
    const first = await counters.reserve(
      [spec(a, 100, 30, 40), spec(b, 50, 30, 0)],
      { id: "r1", expiresAtMs: NOW + 60_000 },
      NOW,
    );
    assert.deepEqual(first, {
      kind: "admitted",
      states: [{ used: 40, reserved: 0, refused: false }, { used: 0, reserved: 0, refused: false }],
    });

    // b has 50 - 30 reserved = 20 left: a 25 reservation fails on b and touches neither.
    const second = await counters.reserve(
      [spec(a, 100, 25), spec(b, 50, 25)],
      { id: "r2", expiresAtMs: NOW + 60_000 },
      NOW,
    );
    assert.deepEqual(second, {
      kind: "refused",
      states: [{ used: 40, reserved: 30, refused: false }, {
        used: 0,
        reserved: 30,
        refused: true,
      }],
    });

    // Settled to what was really used: the reservation is replaced.
    await counters.settle([{ key: a, amount: 12 }, { key: b, amount: 12 }], "r1");
    const read = await counters.reserve([spec(a, 100, 0), spec(b, 50, 0)], null, NOW);
    assert.deepEqual(read, {
      kind: "admitted",
      states: [{ used: 52, reserved: 0, refused: false }, {
        used: 12,
        reserved: 0,
        refused: false,
      }],
    });

    // A reservation whose holder died stops holding budget back once it expires.
    await counters.reserve([spec(b, 50, 30)], { id: "r3", expiresAtMs: NOW + 1000 }, NOW);
    const held = await counters.reserve([spec(b, 50, 10)], null, NOW + 500);
    assert.equal(held.kind, "refused");
    const freed = await counters.reserve([spec(b, 50, 10)], null, NOW + 1000);
    assert.deepEqual(freed, {
      kind: "admitted",
      states: [{ used: 12, reserved: 0, refused: false }],
    });

    // Unlimited counters are kept but never refuse.
    const free = await counters.reserve([spec(key("c"), null, 1e9, 0)], null, NOW);
    assert.equal(free.kind, "admitted");
  });
});
