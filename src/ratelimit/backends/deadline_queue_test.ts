import assert from "node:assert/strict";
import { DeadlineQueue } from "./deadline_queue.ts";

const sleep = <T>(ms: number, value?: T) =>
  new Promise<T | undefined>((resolve) => setTimeout(() => resolve(value), ms));

Deno.test("deadline queue: work in time wins, slow work gets the fallback", async () => {
  const deadlines = new DeadlineQueue(50);
  try {
    const fast = deadlines.race(sleep(5, "fast"), () => "late");
    const slow = deadlines.race(sleep(200, "slow"), () => "late");
    const never = deadlines.race(new Promise<string>(() => {}), () => "late");
    assert.deepEqual(await Promise.all([fast, slow, never]), ["fast", "late", "late"]);
  } finally {
    deadlines.stop();
  }
});

Deno.test("deadline queue: rejections pass through in time and are swallowed after", async () => {
  const deadlines = new DeadlineQueue(30);
  try {
    await assert.rejects(
      deadlines.race(Promise.reject(new Error("refused")), () => "late"),
      /refused/,
    );
    const lateFailure = sleep(80).then(() => {
      throw new Error("too late to matter");
    });
    assert.equal(await deadlines.race(lateFailure, () => "late"), "late");
    await lateFailure.catch(() => {}); // settled after the deadline: no unhandled rejection
  } finally {
    deadlines.stop();
  }
});

Deno.test("deadline queue: calls started later get their own full timeout", async () => {
  const deadlines = new DeadlineQueue(60);
  try {
    const first = deadlines.race(new Promise<string>(() => {}), () => "first expired");
    await sleep(40);
    // Started 40 ms later: still has ~60 ms when the first one expires.
    const second = deadlines.race(sleep(40, "second in time"), () => "second expired");
    assert.equal(await first, "first expired");
    assert.equal(await second, "second in time");
    // Many settled entries do not hold anything up.
    const results = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => deadlines.race(Promise.resolve(i), () => -1)),
    );
    assert.equal(results.reduce((a, b) => a + b, 0), (1999 * 2000) / 2);
    assert.equal(await deadlines.race(new Promise<number>(() => {}), () => -1), -1);
  } finally {
    deadlines.stop();
  }
});
