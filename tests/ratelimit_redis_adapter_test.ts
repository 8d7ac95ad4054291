/**
 * The @upstash/redis -> node-redis adapter against a real, stock Redis.
 * Registered only when TEST_REDIS_URL is set (see ratelimit_store_test.ts for why).
 */
import assert from "node:assert/strict";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis, type Requester, type UpstashRequest } from "@upstash/redis";
import { createClient } from "redis";
import { sha1Hex } from "../src/ratelimit/backends/lua_compat.ts";
import {
  createRedisRequester,
  createUpstashClientOverRedis,
} from "../src/ratelimit/backends/redis_adapter.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL");
const RUN = `test:rl-adapter:${crypto.randomUUID()}`;
const UPSTASH_SCRIPT = `#!lua flags=allow-key-locking
  return redis.call("INCRBY", KEYS[1], ARGV[1])
`;

async function withRaw<T>(
  url: string,
  fn: (send: (args: string[]) => Promise<unknown>) => Promise<T>,
) {
  const client = createClient({ url, RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn((args) => client.sendCommand(args) as Promise<unknown>);
  } finally {
    await client.close();
  }
}

async function deleteRunKeys(url: string): Promise<void> {
  await withRaw(url, async (send) => {
    let cursor = "0";
    do {
      const [next, keys] = await send(["SCAN", cursor, "MATCH", `${RUN}:*`, "COUNT", "1000"]) as [
        string,
        string[],
      ];
      cursor = next;
      if (keys.length > 0) await send(["UNLINK", ...keys]);
    } while (cursor !== "0");
  });
}

if (REDIS_URL) {
  const url = REDIS_URL;

  Deno.test("redis adapter", async (t) => {
    const client = createUpstashClientOverRedis(url);
    const redis = client.redis;
    try {
      await t.step("stock Redis rejects the Upstash shebang (why the adapter exists)", async () => {
        await withRaw(url, async (send) => {
          await assert.rejects(send(["EVAL", UPSTASH_SCRIPT, "1", `${RUN}:raw`, "1"]), /shebang/i);
        });
      });

      await t.step(
        "EVAL strips the shebang; EVALSHA with the original SHA then works",
        async () => {
          const key = `${RUN}:evalsha`;
          const sha = sha1Hex(UPSTASH_SCRIPT);
          await redis.scriptFlush();
          // Never seen: Redis says NOSCRIPT, which is what triggers the library's EVAL fallback.
          await assert.rejects(redis.evalsha(sha, [key], [1]), /NOSCRIPT/);
          assert.equal(await redis.eval(UPSTASH_SCRIPT, [key], [1]), 1);
          assert.equal(await redis.evalsha(sha, [key], [2]), 3);
          assert.deepEqual(await redis.scriptExists(sha), [1]);
        },
      );

      await t.step("SCRIPT LOAD answers with the caller's SHA", async () => {
        const key = `${RUN}:load`;
        await redis.scriptFlush();
        const sha = await redis.scriptLoad(UPSTASH_SCRIPT);
        assert.equal(sha, sha1Hex(UPSTASH_SCRIPT));
        assert.equal(await redis.evalsha(sha, [key], [5]), 5);
      });

      await t.step("after SCRIPT FLUSH, NOSCRIPT -> EVAL recovers", async () => {
        const key = `${RUN}:flush`;
        const sha = sha1Hex(UPSTASH_SCRIPT);
        assert.equal(await redis.eval(UPSTASH_SCRIPT, [key], [1]), 1);
        await redis.scriptFlush();
        await assert.rejects(redis.evalsha(sha, [key], [1]), /NOSCRIPT/);
        assert.equal(await redis.eval(UPSTASH_SCRIPT, [key], [1]), 2);
        assert.equal(await redis.evalsha(sha, [key], [1]), 3);
      });

      await t.step("plain commands: values, nil, JSON round trip, errors", async () => {
        const key = `${RUN}:plain`;
        assert.equal(await redis.set(key, { a: 1, b: "ü€" }), "OK");
        assert.deepEqual(await redis.get(key), { a: 1, b: "ü€" });
        assert.equal(await redis.get(`${RUN}:missing`), null);
        assert.equal(await redis.incr(`${RUN}:counter`), 1);
        await assert.rejects(redis.incr(key), /not an integer/);
        assert.equal(await redis.del(key, `${RUN}:counter`), 2);
      });

      await t.step("pipeline", async () => {
        const k = `${RUN}:pipe`;
        const results = await redis.pipeline()
          .set(`${k}:a`, "v")
          .incr(`${k}:n`)
          .get(`${k}:a`)
          .get(`${k}:missing`)
          .exec();
        assert.deepEqual(results, ["OK", 1, "v", null]);

        await assert.rejects(
          redis.pipeline().set(`${k}:s`, "x").incr(`${k}:s`).exec(),
          /Command 2 \[ incr \] failed: ERR value is not an integer/,
        );
        const kept = await redis.pipeline().get(`${k}:s`).incr(`${k}:s`).exec({
          keepErrors: true,
        });
        assert.equal(kept[0]?.result, "x");
        assert.match(kept[1]?.error ?? "", /not an integer/);
      });

      await t.step("multi-exec is atomic and reports per-command errors", async () => {
        const k = `${RUN}:multi`;
        assert.deepEqual(await redis.multi().incr(`${k}:n`).incr(`${k}:n`).exec(), [1, 2]);
        const kept = await redis.multi()
          .set(`${k}:s`, "x")
          .incr(`${k}:s`)
          .get(`${k}:s`)
          .exec({ keepErrors: true });
        assert.equal(kept[0]?.result, "OK");
        assert.match(kept[1]?.error ?? "", /not an integer/);
        assert.equal(kept[2]?.result, "x");
      });

      await t.step("ping reports latency", async () => {
        const latency = await client.ping();
        assert.ok(latency >= 0 && latency < 1000);
      });
    } finally {
      await client.close();
      await deleteRunKeys(url);
    }
  });

  Deno.test("@upstash/ratelimit over the adapter uses EVALSHA with its precomputed SHA", async () => {
    const requester = createRedisRequester(url);
    const seen: { command: string; arg: string; error?: string }[] = [];
    const spy: Requester = {
      async request<T>(req: UpstashRequest) {
        const response = await requester.request<T>(req);
        const [command, arg] = req.body as string[];
        seen.push({ command: String(command), arg: String(arg), error: response.error });
        return response;
      },
    };
    const limiter = new Ratelimit({
      redis: new Redis(spy),
      limiter: Ratelimit.slidingWindow(5, "60 s"),
      prefix: `${RUN}:lib`,
      analytics: false,
      ephemeralCache: false,
      enableTelemetry: false,
    });
    try {
      await requester.request({ body: ["script", "flush"] });
      seen.length = 0;

      const first = await limiter.limit("client");
      assert.equal(first.success, true);
      assert.equal(first.remaining, 4);
      // Unknown to Redis under the original SHA -> NOSCRIPT -> EVAL of the original text.
      assert.deepEqual(seen.map((s) => s.command), ["evalsha", "eval"]);
      assert.match(seen[0]?.error ?? "", /NOSCRIPT/);
      assert.equal(seen[0]?.arg, sha1Hex(seen[1]?.arg ?? ""), "library SHA is of the original");
      assert.ok(seen[1]?.arg.startsWith("#!lua flags=allow-key-locking"));

      seen.length = 0;
      const second = await limiter.limit("client");
      assert.equal(second.remaining, 3);
      assert.deepEqual(seen.map((s) => [s.command, s.error]), [["evalsha", undefined]]);
    } finally {
      await requester.close();
      await deleteRunKeys(url);
    }
  });

  Deno.test("redis adapter reconnects after its connection is killed", async () => {
    const clientName = `gatehouse-test-${crypto.randomUUID().slice(0, 8)}`;
    const requester = createRedisRequester(url, { clientName });
    try {
      await requester.ping();
      const killed = await withRaw(url, async (send) => {
        const list = String(await send(["CLIENT", "LIST"]));
        const line = list.split("\n").find((l) => l.includes(` name=${clientName} `));
        const id = line?.match(/\bid=(\d+)/)?.[1];
        assert.ok(id, "adapter connection is visible under its client name");
        return await send(["CLIENT", "KILL", "ID", id]);
      });
      assert.equal(killed, 1);
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the close event land
      assert.ok(await requester.ping() >= 0, "a fresh connection is opened on demand");
      const pong = await requester.request({ body: ["echo", "still here"] });
      assert.deepEqual(pong, { result: "still here" });
    } finally {
      await requester.close();
    }
  });

  Deno.test("redis adapter reports unsupported paths and malformed bodies as errors", async () => {
    const requester = createRedisRequester(url);
    try {
      await assert.rejects(
        requester.request({ path: ["subscribe", "x"], body: [] }),
        /Unsupported/,
      );
      await assert.rejects(requester.request({ body: [] }), TypeError);
      await assert.rejects(requester.request({ path: ["pipeline"], body: "nope" }), TypeError);
      const unknown = await requester.request({ body: ["nosuchcommand"] });
      assert.equal(unknown.result, undefined);
      assert.match(unknown.error ?? "", /unknown command/);
    } finally {
      await requester.close();
    }
  });
}

if (REDIS_URL) {
  const url = REDIS_URL;

  Deno.test("redis adapter drops a connection that stops answering and reconnects", async () => {
    const errors: string[] = [];
    const requester = createRedisRequester(url, {
      commandTimeoutMs: 200,
      onError: (error) => errors.push(String(error)),
    });
    const pauseMs = 1500;
    try {
      assert.deepEqual(await requester.request({ body: ["echo", "before"] }), {
        result: "before",
      });
      // CLIENT PAUSE holds every client's commands unanswered, as a wedged server would.
      await withRaw(url, (send) => send(["CLIENT", "PAUSE", String(pauseMs), "ALL"]));
      await assert.rejects(requester.request({ body: ["echo", "during"] }));
      assert.ok(
        errors.some((e) => e.includes("no reply from Redis for 200 ms")),
        `the stall was detected and reported: ${errors.join("; ")}`,
      );
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      assert.deepEqual(await requester.request({ body: ["echo", "after"] }), { result: "after" });
    } finally {
      await requester.close();
    }
  });
}
