import assert from "node:assert/strict";
import { MemoryRateLimiterStore } from "./memory_store.ts";
import type { LimitWindow } from "../outcome.ts";

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
