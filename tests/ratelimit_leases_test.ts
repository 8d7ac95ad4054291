/**
 * Leased budgets (src/ratelimit/leases.ts) on a real Redis, through the RESP
 * adapter and through the Upstash REST protocol: exact across instances, few
 * round trips, nothing stranded. Registered only with TEST_REDIS_URL (leases
 * exist only on networked stores).
 */
import assert from "node:assert/strict";
import { LEASE_TTL_MS, LeasedBudgets, MAX_LEASE } from "../src/ratelimit/leases.ts";
import {
  createRateLimiterStore,
  type LimitWindow,
  type RateLimiterStore,
  type ScriptRunner,
} from "../src/ratelimit/limiter.ts";
import { deleteKeys } from "./support/redis_keys.ts";
import { startUpstashRestServer, type UpstashRestServer } from "./support/upstash_rest_server.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps a burst inside one minute window so counts are exact. */
async function awayFromMinuteBoundary(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5000) await sleep(left + 100);
}

/** Counts the script runs (round trips) of a store's runner. */
function counting(scripts: ScriptRunner): ScriptRunner & { runs: number } {
  const counted = {
    runs: 0,
    run(script: string, keys: string[], args: string[]) {
      counted.runs++;
      return scripts.run(script, keys, args);
    },
  };
  return counted;
}

const minuteAndDay = (perMinute: number, perDay: number): LimitWindow[] => [
  { name: "minute", limit: perMinute, windowSeconds: 60 },
  { name: "day", limit: perDay, windowSeconds: 86_400 },
];

interface Backend {
  name: string;
  open(prefix: string): Promise<RateLimiterStore>;
  close(): Promise<void>;
}

if (REDIS_URL) {
  let upstash: UpstashRestServer | undefined;
  const token = crypto.randomUUID();
  const backends: Backend[] = [
    {
      name: "redis",
      open: (prefix) =>
        createRateLimiterStore({ kind: "redis", url: REDIS_URL }, { timeoutMs: 2000, prefix }),
      close: async () => {},
    },
    {
      name: "upstash (REST protocol over HTTP)",
      open: async (prefix) => {
        upstash ??= await startUpstashRestServer(REDIS_URL, token);
        return await createRateLimiterStore(
          { kind: "upstash", url: upstash.url, token },
          { timeoutMs: 2000, prefix },
        );
      },
      close: async () => {
        await upstash?.close();
        upstash = undefined;
      },
    },
  ];

  for (const backend of backends) {
    Deno.test(`leased budgets [${backend.name}]`, async (t) => {
      const prefix = `test:lease:${crypto.randomUUID()}`;
      const storeA = await backend.open(prefix);
      const storeB = await backend.open(prefix);
      const open: LeasedBudgets[] = [];
      const lease = (store: RateLimiterStore) => {
        const runner = counting(store.scripts!);
        const leases = new LeasedBudgets(runner, { prefix });
        open.push(leases);
        return { leases, runner };
      };
      try {
        await t.step("two instances admit exactly the limit of a concurrent burst", async () => {
          await awayFromMinuteBoundary();
          const a = lease(storeA);
          const b = lease(storeB);
          const windows = minuteAndDay(100, 10_000);
          const burst = await Promise.all(
            Array.from(
              { length: 300 },
              (_, i) => (i % 2 === 0 ? a : b).leases.take("user", windows, "burst-user"),
            ),
          );
          assert.equal(burst.filter((d) => d.success).length, 100);
          const refused = burst.filter((d) => !d.success);
          assert.equal(refused.length, 200);
          assert.equal(refused[0]!.outcomes[0]!.success, false, "the minute window refused");
          assert.equal(refused[0]!.outcomes[0]!.remaining, 0);
          assert.ok(refused[0]!.outcomes[1]!.success, "the day window still had room");
        });

        await t.step("most requests need no round trip when the budget is large", async () => {
          await awayFromMinuteBoundary();
          const { leases, runner } = lease(storeA);
          const windows = minuteAndDay(1_000_000, 10_000_000);
          const decisions = [];
          for (let i = 0; i < 2000; i++) {
            decisions.push(await leases.take("user", windows, "busy-user"));
          }
          assert.ok(decisions.every((d) => d.success));
          // One script decides both windows; a lease holds up to MAX_LEASE requests.
          assert.ok(
            runner.runs <= Math.ceil(2000 / MAX_LEASE) + 1,
            `${runner.runs} round trips for 2000 requests`,
          );
          // Remaining counts down by one per request, lease or not.
          const remaining = decisions.map((d) => d.outcomes[0]!.remaining);
          assert.equal(remaining[0], 1_000_000 - 1);
          assert.equal(remaining[1999], 1_000_000 - 2000);
        });

        await t.step("near the limit each lease is one request", async () => {
          await awayFromMinuteBoundary();
          const a = lease(storeA);
          const b = lease(storeB);
          const windows = minuteAndDay(4, 1000);
          const order = [a, a, a, b, b, b];
          const admitted = [];
          for (const instance of order) {
            admitted.push((await instance.leases.take("user", windows, "alternating")).success);
          }
          assert.deepEqual(admitted, [true, true, true, true, false, false]);
        });

        await t.step("what an idle instance leased goes back to the others", async () => {
          await awayFromMinuteBoundary();
          const a = lease(storeA);
          const b = lease(storeB);
          const windows = minuteAndDay(80, 10_000);
          // a leases a tenth of the budget (80 / 8) and spends one request of it.
          assert.ok((await a.leases.take("user", windows, "idle-user")).success);
          await sleep(LEASE_TTL_MS * 2 + 200);
          let admitted = 0;
          while ((await b.leases.take("user", windows, "idle-user")).success) admitted++;
          assert.equal(admitted, 79, "b gets everything a did not spend");
        });

        await t.step("closing an instance gives its unspent lease back", async () => {
          await awayFromMinuteBoundary();
          const a = lease(storeA);
          const windows = minuteAndDay(800, 10_000);
          for (let i = 0; i < 3; i++) {
            assert.ok((await a.leases.take("user", windows, "closing-user")).success);
          }
          await a.leases.close();
          const b = lease(storeB);
          const first = await b.leases.take("user", windows, "closing-user");
          // b's lease saw 797 left; its answer counts its own request too.
          assert.equal(first.outcomes[0]!.remaining, 800 - 4);
        });

        await t.step("a backend that cannot answer fails open, and says so", async () => {
          const broken = new LeasedBudgets({
            run: () => Promise.reject(new Error("connection refused")),
          }, { prefix });
          open.push(broken);
          const decision = await broken.take("user", minuteAndDay(5, 50), "anyone");
          assert.equal(decision.success, true);
          assert.equal(decision.timedOut, true);
        });
      } finally {
        for (const leases of open) await leases.close();
        await storeA.close();
        await storeB.close();
        await backend.close();
        await deleteKeys(REDIS_URL, `${prefix}:*`);
      }
    });
  }
}
