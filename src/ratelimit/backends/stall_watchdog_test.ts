import assert from "node:assert/strict";
import { StallWatchdog } from "./stall_watchdog.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("stall watchdog fires when outstanding commands get no reply", async () => {
  let stalls = 0;
  let release!: () => void;
  const watchdog = new StallWatchdog(30, () => {
    stalls++;
    release();
  });
  const hanging = new Promise<void>((resolve) => release = resolve);
  await watchdog.watch(hanging);
  assert.equal(stalls, 1);
  watchdog.stop();
});

Deno.test("stall watchdog stays quiet while replies keep arriving or nothing is outstanding", async () => {
  let stalls = 0;
  const watchdog = new StallWatchdog(40, () => stalls++);
  // Each command takes 15 ms, so there is progress well within every 40 ms window.
  for (let i = 0; i < 8; i++) await watchdog.watch(sleep(15));
  await sleep(60); // idle: nothing outstanding, nothing to report
  assert.equal(stalls, 0);
  const failed = watchdog.watch(Promise.reject(new Error("refused")));
  await assert.rejects(failed, /refused/);
  await sleep(60);
  assert.equal(stalls, 0, "a rejected command counts as a reply");
  watchdog.stop();
});
