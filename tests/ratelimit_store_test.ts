/**
 * Behavioural suite for every available RateLimiterStore backend.
 *
 * - memory: always.
 * - redis (RESP adapter) and upstash (HTTP client against a local Upstash-protocol server):
 *   only registered when TEST_REDIS_URL is set (CI forbids ignored tests, so they are simply
 *   not registered otherwise).
 * - unreachable / unresponsive backends: always (they need no server).
 *
 * Every run uses a random key prefix and deletes its keys afterwards.
 */
import { deleteKeys } from "./support/redis_keys.ts";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { rateLimitHeaders } from "../src/ratelimit/headers.ts";
import {
  createRateLimiterStore,
  limitAll,
  type LimitWindow,
  type RateLimiterStore,
} from "../src/ratelimit/limiter.ts";
import { awayFromWindowBoundary } from "./support/limiter.ts";
import { startUpstashRestServer } from "./support/upstash_rest_server.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL");
const RUN = `test:rl:${crypto.randomUUID()}`;
/** Generous for a local Redis: behavioural tests must not be decided by the timeout. */
const LIVE_TIMEOUT_MS = 2000;

interface Harness {
  /** Opens a store (a fresh "app instance") on the shared backend. */
  open(prefix: string): Promise<RateLimiterStore>;
  /** Whether two opened stores see the same counters. */
  shared: boolean;
  /** Runs a raw Redis command against the backing Redis (redis kinds only). */
  raw?: (args: string[]) => Promise<unknown>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rawRedis(url: string) {
  const client = createClient({ url, RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  return {
    send: (args: string[]) => client.sendCommand(args) as Promise<unknown>,
    close: () => client.close(),
  };
}

function registerSuite(name: string, setup: () => Promise<Harness>): void {
  Deno.test(`rate limiter store [${name}]`, async (t) => {
    const harness = await setup();
    const prefix = `${RUN}:${name}`;
    const stores: RateLimiterStore[] = [];
    const open = async () => {
      const store = await harness.open(prefix);
      stores.push(store);
      return store;
    };
    try {
      const store = await open();
      assert.equal(store.kind, name);
      assert.equal((await store.health()).status, "up");

      await t.step("exactly L of N concurrent requests pass", async () => {
        const window: LimitWindow = { name: "minute", limit: 5, windowSeconds: 60 };
        await awayFromWindowBoundary(60, 1500);
        const outcomes = await Promise.all(
          Array.from({ length: 12 }, () => store.limit("burst", window, "client-1")),
        );
        assert.equal(outcomes.filter((o) => o.success).length, 5);
        assert.ok(outcomes.every((o) => !o.timedOut));
        assert.deepEqual(
          outcomes.filter((o) => o.success).map((o) => o.remaining).sort(),
          [0, 1, 2, 3, 4],
        );
        assert.ok(outcomes.filter((o) => !o.success).every((o) => o.remaining === 0));
      });

      await t.step("remaining decreases and reset is the end of the current window", async () => {
        const window: LimitWindow = { name: "minute", limit: 3, windowSeconds: 60 };
        await awayFromWindowBoundary(60, 1500);
        const before = Date.now();
        const outcomes = [];
        for (let i = 0; i < 4; i++) outcomes.push(await store.limit("seq", window, "client-1"));
        assert.deepEqual(outcomes.map((o) => o.success), [true, true, true, false]);
        assert.deepEqual(outcomes.map((o) => o.remaining), [2, 1, 0, 0]);
        for (const o of outcomes) {
          assert.ok(o.reset > before, "reset is in the future");
          assert.ok(o.reset <= before + 60_000);
          assert.equal(o.reset % 60_000, 0);
        }
      });

      await t.step("day window is enforced independently of the minute window", async () => {
        await awayFromWindowBoundary(60, 1500);
        await awayFromWindowBoundary(86_400, 1500);
        const windows: LimitWindow[] = [
          { name: "minute", limit: 10, windowSeconds: 60 },
          { name: "day", limit: 3, windowSeconds: 86_400 },
        ];
        const results = [];
        for (let i = 0; i < 4; i++) results.push(await limitAll(store, "quota", windows, "k1"));
        assert.deepEqual(results.map((r) => r.success), [true, true, true, false]);
        const denied = results[3]!;
        assert.equal(denied.constrained.window.name, "day");
        assert.equal(denied.outcomes[0]?.success, true, "minute still has budget");
        assert.equal(denied.outcomes[0]?.remaining, 6);
        assert.equal(denied.timedOut, false);

        const headers = rateLimitHeaders(denied.outcomes);
        assert.equal(headers["RateLimit-Policy"], '"minute";q=10;w=60, "day";q=3;w=86400');
        assert.equal(headers["X-RateLimit-Limit"], "3");
        assert.equal(headers["X-RateLimit-Remaining"], "0");
        assert.equal(
          headers["X-RateLimit-Reset"],
          String(Math.ceil(denied.constrained.reset / 1000)),
        );
        assert.match(headers["RateLimit"] ?? "", /^"day";r=0;t=\d+$/);
        assert.ok(Number(headers["Retry-After"]) >= 1);

        // And the other way round: the minute window denies while the day keeps counting.
        const tight: LimitWindow[] = [
          { name: "minute", limit: 2, windowSeconds: 60 },
          { name: "day", limit: 100, windowSeconds: 86_400 },
        ];
        const r = [];
        for (let i = 0; i < 3; i++) r.push(await limitAll(store, "quota", tight, "k2"));
        assert.deepEqual(r.map((x) => x.success), [true, true, false]);
        assert.equal(r[2]?.constrained.window.name, "minute");
        assert.equal(r[2]?.outcomes[1]?.remaining, 97);
      });

      await t.step("policies and identifiers are isolated", async () => {
        const window: LimitWindow = { name: "minute", limit: 1, windowSeconds: 60 };
        await awayFromWindowBoundary(60, 1500);
        assert.equal((await store.limit("iso-a", window, "x")).success, true);
        assert.equal((await store.limit("iso-a", window, "x")).success, false);
        assert.equal((await store.limit("iso-b", window, "x")).success, true);
        assert.equal((await store.limit("iso-a", window, "y")).success, true);
      });

      await t.step("a per-key override keeps counting the same requests", async () => {
        await awayFromWindowBoundary(60, 1500);
        const tier: LimitWindow = { name: "minute", limit: 5, windowSeconds: 60 };
        for (let i = 0; i < 3; i++) await store.limit("override", tier, "key-9");
        const raised = await store.limit("override", { ...tier, limit: 10 }, "key-9");
        assert.equal(raised.success, true);
        assert.equal(raised.remaining, 6);
      });

      if (harness.shared) {
        await t.step("two store instances on one backend share the limit", async () => {
          const other = await open();
          const window: LimitWindow = { name: "minute", limit: 5, windowSeconds: 60 };
          await awayFromWindowBoundary(60, 1500);
          const outcomes = await Promise.all(
            Array.from(
              { length: 12 },
              (_, i) => (i % 2 ? store : other).limit("shared", window, "client-1"),
            ),
          );
          assert.equal(outcomes.filter((o) => o.success).length, 5);
        });
      }

      const raw = harness.raw;
      if (raw) {
        await t.step("keeps working after SCRIPT FLUSH (NOSCRIPT -> EVAL path)", async () => {
          const window: LimitWindow = { name: "minute", limit: 10, windowSeconds: 60 };
          await awayFromWindowBoundary(60, 1500);
          const first = await store.limit("flush", window, "client-1");
          // Affects every user of this Redis, but only costs them one EVAL fallback.
          await raw(["SCRIPT", "FLUSH"]);
          const second = await store.limit("flush", window, "client-1");
          assert.equal(second.timedOut, false);
          assert.equal(second.remaining, first.remaining - 1);
          const third = await store.limit("flush", window, "client-1");
          assert.equal(third.remaining, first.remaining - 2);
        });
      }
    } finally {
      for (const store of stores) await store.close();
      await harness.close();
    }
  });
}

registerSuite("memory", () =>
  Promise.resolve({
    shared: false,
    open: () => createRateLimiterStore({ kind: "memory" }, { timeoutMs: 100, prefix: "unused" }),
    close: () => Promise.resolve(),
  }));

if (REDIS_URL) {
  const url = REDIS_URL;

  registerSuite("redis", async () => {
    const admin = await rawRedis(url);
    return {
      shared: true,
      raw: admin.send,
      open: (prefix) =>
        createRateLimiterStore({ kind: "redis", url }, { timeoutMs: LIVE_TIMEOUT_MS, prefix }),
      async close() {
        await deleteKeys(url, `${RUN}:redis:*`);
        await admin.close();
      },
    };
  });

  registerSuite("upstash", async () => {
    const admin = await rawRedis(url);
    const server = await startUpstashRestServer(url, crypto.randomUUID());
    return {
      shared: true,
      raw: admin.send,
      open: (prefix) =>
        createRateLimiterStore(
          { kind: "upstash", url: server.url, token: server.token },
          { timeoutMs: LIVE_TIMEOUT_MS, prefix },
        ),
      async close() {
        await server.close();
        await deleteKeys(url, `${RUN}:upstash:*`);
        await admin.close();
      },
    };
  });

  Deno.test("a Redis that answers too slowly: limit fails open by the timeout, then recovers", async () => {
    const prefix = `${RUN}:slow`;
    const store = await createRateLimiterStore({ kind: "redis", url }, { timeoutMs: 150, prefix });
    const window: LimitWindow = { name: "minute", limit: 5, windowSeconds: 60 };
    try {
      assert.equal((await store.limit("x", window, "c")).timedOut, false);
      const raw = createClient({ url, RESP: 2 });
      raw.on("error", () => {});
      await raw.connect();
      // Every client's commands wait 600 ms: longer than the limiter may wait.
      await raw.sendCommand(["CLIENT", "PAUSE", "600", "ALL"]);
      await raw.close();
      const during = await store.limit("x", window, "c");
      assert.equal(during.timedOut, true);
      assert.equal(during.success, true);
      await sleep(700);
      const after = await store.limit("x", window, "c");
      assert.equal(after.timedOut, false);
      assert.ok(after.remaining <= 3, "the requests counted while it was slow landed too");
    } finally {
      await store.close();
      await deleteKeys(url, `${prefix}:*`);
    }
  });

  Deno.test("redis and upstash stores on the same Redis share counters", async () => {
    const server = await startUpstashRestServer(url, crypto.randomUUID());
    const prefix = `${RUN}:cross`;
    const settings = { timeoutMs: LIVE_TIMEOUT_MS, prefix };
    const viaResp = await createRateLimiterStore({ kind: "redis", url }, settings);
    const viaHttp = await createRateLimiterStore(
      { kind: "upstash", url: server.url, token: server.token },
      settings,
    );
    try {
      const window: LimitWindow = { name: "minute", limit: 4, windowSeconds: 60 };
      await awayFromWindowBoundary(60, 1500);
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? viaResp : viaHttp).limit("x", window, "c")),
      );
      assert.equal(outcomes.filter((o) => o.success).length, 4);
    } finally {
      await viaResp.close();
      await viaHttp.close();
      await server.close();
      assert.ok(await deleteKeys(url, `${prefix}:*`) > 0, "keys were written under the prefix");
    }
  });

  Deno.test("upstash REST client is rejected with a wrong token (fails open)", async () => {
    const server = await startUpstashRestServer(url, "right-token");
    const errors: unknown[] = [];
    const store = await createRateLimiterStore(
      { kind: "upstash", url: server.url, token: "wrong-token" },
      { timeoutMs: LIVE_TIMEOUT_MS, prefix: `${RUN}:auth`, onBackendError: (e) => errors.push(e) },
    );
    try {
      const window: LimitWindow = { name: "minute", limit: 1, windowSeconds: 60 };
      const outcome = await store.limit("p", window, "c");
      assert.equal(outcome.timedOut, true);
      assert.equal(outcome.success, true);
      assert.match(String(errors.at(-1)), /Unauthorized/);
      assert.equal((await store.health()).status, "down");
    } finally {
      await store.close();
      await server.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Unavailable backends: always registered, they need no server.

const FAIL_FAST_TIMEOUT_MS = 300;
const MINUTE: LimitWindow = { name: "minute", limit: 5, windowSeconds: 60 };

async function assertFailsOpenFast(store: RateLimiterStore, errors: unknown[]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const outcome = await store.limit("ip", MINUTE, "203.0.113.7");
    const elapsed = performance.now() - started;
    assert.equal(outcome.timedOut, true);
    assert.equal(outcome.success, true);
    assert.equal(outcome.remaining, MINUTE.limit);
    assert.ok(outcome.reset > Date.now());
    assert.ok(elapsed < 3 * FAIL_FAST_TIMEOUT_MS, `limit took ${elapsed.toFixed(0)} ms`);
  }
  const all = await limitAll(store, "ip", [MINUTE, {
    ...MINUTE,
    name: "day",
    windowSeconds: 86_400,
  }], "x");
  assert.equal(all.success, true);
  assert.equal(all.timedOut, true);

  const health = await store.health();
  assert.equal(health.status, "down");
  assert.equal(health.backend, store.kind);
  assert.ok(typeof health.error === "string" && health.error.length > 0);
  assert.ok(errors.length > 0, "backend errors are reported");
}

Deno.test("unreachable Redis: limit fails open quickly, health is down", async () => {
  const errors: unknown[] = [];
  const started = performance.now();
  const store = await createRateLimiterStore({ kind: "redis", url: "redis://127.0.0.1:1" }, {
    timeoutMs: FAIL_FAST_TIMEOUT_MS,
    prefix: `${RUN}:dead`,
    onBackendError: (e) => errors.push(e),
  });
  try {
    assert.ok(performance.now() - started < 3 * FAIL_FAST_TIMEOUT_MS, "startup does not hang");
    await assertFailsOpenFast(store, errors);
  } finally {
    await store.close();
  }
});

Deno.test("unreachable Upstash endpoint: limit fails open quickly, health is down", async () => {
  const errors: unknown[] = [];
  const store = await createRateLimiterStore(
    { kind: "upstash", url: "http://127.0.0.1:1", token: "token" },
    {
      timeoutMs: FAIL_FAST_TIMEOUT_MS,
      prefix: `${RUN}:dead`,
      onBackendError: (e) => errors.push(e),
    },
  );
  try {
    await assertFailsOpenFast(store, errors);
  } finally {
    await store.close();
  }
});

Deno.test("Redis that accepts connections but never answers: limit times out", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch {
      // listener closed
    }
  })();
  const store = await createRateLimiterStore(
    { kind: "redis", url: `redis://127.0.0.1:${listener.addr.port}` },
    { timeoutMs: FAIL_FAST_TIMEOUT_MS, prefix: `${RUN}:hang` },
  );
  try {
    const started = performance.now();
    const outcome = await store.limit("ip", MINUTE, "198.51.100.1");
    const elapsed = performance.now() - started;
    assert.equal(outcome.timedOut, true);
    assert.equal(outcome.success, true);
    assert.ok(elapsed < 3 * FAIL_FAST_TIMEOUT_MS, `limit took ${elapsed.toFixed(0)} ms`);
    assert.equal((await store.health()).status, "down");
  } finally {
    await store.close();
    listener.close();
    await accepting;
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed by the peer
      }
    }
  }
});

Deno.test("misconfiguration fails at startup instead of failing open forever", async () => {
  const settings = { timeoutMs: 300, prefix: `${RUN}:config` };
  await assert.rejects(
    createRateLimiterStore({ kind: "redis", url: "http://127.0.0.1:6379" }, settings),
    TypeError,
  );
  await assert.rejects(
    createRateLimiterStore({ kind: "redis", url: "not a url" }, settings),
    TypeError,
  );
  await assert.rejects(
    createRateLimiterStore({ kind: "upstash", url: "127.0.0.1:1", token: "t" }, settings),
    /invalid URL/,
  );
  await assert.rejects(
    createRateLimiterStore({ kind: "memory" }, { ...settings, timeoutMs: 0 }),
    RangeError,
  );
});
