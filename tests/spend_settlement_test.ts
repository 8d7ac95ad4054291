/**
 * Every model call is settled with what it really used, whatever happened:
 * a client gone mid-stream, a provider that reports no usage, a stream cut by
 * the upstream, a failed call, and a process killed between reservation and
 * settlement (closed and billed at the next start, or by an instance still running).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { loadConfig } from "../src/config.ts";
import { startServer } from "../src/server.ts";
import { createServices } from "../src/services.ts";
import { eventually, startAppWithMock } from "./support/chat.ts";
import { parseSse, readThenAbort } from "./support/sse.ts";
import {
  captureLogger,
  socketJson,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestApp,
} from "./support/harness.ts";
import { startMockOpenAI } from "./support/mock_openai_server.ts";
import { deleteKeys } from "./support/redis_keys.ts";
import { registerUser } from "./support/users.ts";
import { insertPendingUsage } from "../src/db/usage.ts";

interface LedgerRow {
  status: string;
  usage_source: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

async function settledRow(h: TestApp, userId: string): Promise<LedgerRow> {
  return await eventually(async () => {
    const [row] = await h.services.sql<LedgerRow[]>`
      select status, usage_source, input_tokens, output_tokens, cost_usd::float8 as cost_usd
      from usage_records where user_id = ${userId} and status <> 'pending'`;
    return row;
  });
}

/** The user's tokens_per_day counter as getQuotas shows it. */
async function tokensUsed(h: TestApp, token: string): Promise<number> {
  const { items } = await (await h.json("GET", "/v1/usage/quotas", undefined, { token })).json();
  return items.find((i: { policy: string }) => i.policy === "tokens_per_day").used;
}

const WORDS = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");

Deno.test("spend settlement: a client gone mid-stream is billed for the prompt and what was delivered", async () => {
  const { h, close } = await startAppWithMock({ "m-slow": { reply: WORDS, chunkDelayMs: 30 } });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const controller = new AbortController();
    const res = await socketJson(`http://127.0.0.1:${server.port}`)("POST", "/v1/query", {
      prompt: "a long story please",
      mode: "balanced",
      stream: true,
    }, { token: user.accessToken, signal: controller.signal });
    await readThenAbort(res, controller, 3);
    const row = await settledRow(h, user.id);
    assert.equal(row.status, "incomplete");
    assert.equal(row.usage_source, "estimated");
    assert.equal(row.input_tokens, 5, "ceil(19 / 4): the prompt went upstream");
    assert.ok(row.output_tokens > 0, "what was delivered is billed");
    assert.ok(row.cost_usd > 0);
    assert.equal(await tokensUsed(h, user.accessToken), row.input_tokens + row.output_tokens);
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("spend settlement: a provider that reports no usage is billed by estimate", async () => {
  const { h, close } = await startAppWithMock({
    "m-quiet": { reply: "four words right here", usage: false },
  });
  try {
    const user = await registerUser(h);
    const res = await h.json("POST", "/v1/query", { prompt: "abcdefgh", mode: "balanced" }, {
      token: user.accessToken,
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    const row = await settledRow(h, user.id);
    assert.equal(row.status, "complete");
    assert.equal(row.usage_source, "estimated");
    // "abcdefgh" = 2 tokens; "four words right here" (21 characters) = 6 tokens.
    assert.deepEqual([row.input_tokens, row.output_tokens], [2, 6]);
    assert.equal(row.cost_usd, 0.000014); // 2 × $1/M + 6 × $2/M
    assert.equal(body.usage.cost_usd, row.cost_usd);
    assert.equal(await tokensUsed(h, user.accessToken), 8);
  } finally {
    await close();
  }
});

Deno.test("spend settlement: a stream the upstream cuts is settled and never recorded as zero", async () => {
  const { h, close } = await startAppWithMock({
    "m-cut": { reply: WORDS, failAfterChunks: 4, failWith: "truncate" },
  });
  try {
    const user = await registerUser(h);
    const res = await h.json("POST", "/v1/query", {
      prompt: "abcdefgh",
      mode: "balanced",
      stream: true,
    }, { token: user.accessToken });
    const { events } = parseSse(await res.text());
    assert.ok(events.some((e) => e.event === "chunk"));
    assert.ok(events.some((e) => e.event === "error"));
    const row = await settledRow(h, user.id);
    // Cut after content reached the client: incomplete (not replaced by another model).
    assert.equal(row.status, "incomplete");
    assert.equal(row.usage_source, "estimated");
    assert.equal(row.input_tokens, 2);
    assert.ok(row.output_tokens > 0, "four chunks were delivered");
    assert.ok(row.cost_usd > 0);
  } finally {
    await close();
  }
});

Deno.test("spend settlement: a failed call is settled with the prompt it sent", async () => {
  const { h, close } = await startAppWithMock({ "m-down": { status: 500 } });
  try {
    const user = await registerUser(h);
    const res = await h.json("POST", "/v1/query", { prompt: "abcdefgh", mode: "balanced" }, {
      token: user.accessToken,
    });
    assert.equal(res.status, 503);
    const row = await settledRow(h, user.id);
    assert.equal(row.status, "error");
    assert.equal(row.usage_source, "estimated");
    assert.deepEqual([row.input_tokens, row.output_tokens], [2, 0]);
    assert.equal(row.cost_usd, 0.000002);
    // The reservation (2 + 1024 tokens) is released: only what was used stays counted.
    assert.equal(await tokensUsed(h, user.accessToken), 2);
  } finally {
    await close();
  }
});

/** A free loopback port for a subprocess to listen on. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("spend settlement: a process killed between reservation and settlement is billed at the next start", async () => {
  const mock = startMockOpenAI({ models: { "m-stall": { hang: true } } });
  const timeoutMs = 1000;
  const providers = JSON.stringify([{
    name: "mock",
    base_url: mock.baseUrl,
    api_key: mock.apiKey,
    models: [{
      id: "m-stall",
      rank: 1,
      input_price_per_mtok: 1,
      output_price_per_mtok: 2,
      timeout_ms: timeoutMs,
    }],
  }]);
  const prefix = `gh_test_${crypto.randomUUID().slice(0, 8)}:rl`;
  const env: Record<string, string> = {
    LLM_PROVIDERS: providers,
    LOG_LEVEL: "warn",
    PASSWORD_SCRYPT_LOG_N: "14",
    RATE_LIMIT_PREFIX: prefix,
    SEED_DEMO: "false",
  };
  // Real Postgres: a database of its own; embedded: a data directory of its own.
  let dropDatabase = async () => {};
  let dataDir: string | null = null;
  if (TEST_DATABASE_URL) {
    const name = `gh_crash_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    env.JWT_SECRET = crypto.randomUUID() + crypto.randomUUID();
    if (TEST_REDIS_URL) env.REDIS_URL = TEST_REDIS_URL;
    else env.RATE_LIMIT_BACKEND = "memory";
    dropDatabase = async () => {
      const cleanup = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    };
  } else {
    dataDir = await Deno.makeTempDir({ prefix: "gh_crash_" });
    env.DATA_DIR = dataDir;
  }
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    env: { ...env, PORT: String(port), HOSTNAME: "127.0.0.1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  let killed = false;
  try {
    await eventually(async () => {
      try {
        const res = await fetch(`${base}/health/ready`);
        await res.body?.cancel();
        return res.ok ? true : undefined;
      } catch {
        return undefined;
      }
    }, 60_000);
    const email = `crash-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const json = socketJson(base);
    const reg = await json("POST", "/v1/auth/register", {
      email,
      password: "quiet-harbor-crash-test",
    });
    assert.equal(reg.status, 201);
    const { access_token: token, user } = await reg.json();
    const stream = json("POST", "/v1/query", {
      prompt: "abcdefgh",
      mode: "balanced",
      stream: true,
    }, { token }).then((res) => res.body?.cancel()).catch(() => {});
    // The call reached the (stalling) upstream: reserved, turn written, not settled.
    await mock.waitForRequests(1);
    child.kill("SIGKILL");
    killed = true;
    await child.status;
    await stream;

    // Old enough to count as crashed (the model's timeout plus a margin) before the restart.
    await new Promise((r) => setTimeout(r, timeoutMs + 2_500));
    const config = loadConfig(env);
    const { logger } = captureLogger();
    const services = await createServices(config, { log: logger });
    try {
      const [row] = await services.sql<LedgerRow[]>`
        select status, usage_source, input_tokens, output_tokens, cost_usd::float8 as cost_usd
        from usage_records where user_id = ${user.id}`;
      assert.ok(row, "the call left its usage row");
      assert.equal(row.status, "incomplete");
      assert.equal(row.usage_source, "estimated");
      assert.equal(row.input_tokens, 2);
      assert.equal(row.cost_usd, 0.000002);
      const messages = await services.sql<{ role: string; status: string }[]>`
        select role, status from messages m join conversations c on c.id = m.conversation_id
        where c.user_id = ${user.id} order by m.seq`;
      assert.deepEqual(messages.map((m) => [m.role, m.status]), [
        ["user", "complete"],
        ["assistant", "incomplete"],
      ]);
      const quotas = await services.spend.quotas(
        await services.spend.limitsOf({ userId: user.id }),
      );
      const tokens = quotas.find((q) => q.policy === "tokens_per_day")!;
      assert.equal(tokens.used, 2, "billed on the limiter too");
      assert.equal(tokens.reserved, 0, "the crashed reservation no longer holds budget");
    } finally {
      await services.close();
    }
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
    }
    await mock.close();
    await dropDatabase();
    if (dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    if (TEST_REDIS_URL && env.REDIS_URL) await deleteKeys(TEST_REDIS_URL, `${prefix}:*`);
  }
});

Deno.test("spend settlement: a running instance bills what a crashed one left pending, without a restart", async () => {
  const { h, close } = await startAppWithMock({ "m-fast": { reply: "ok" } }, {
    SPEND_SWEEP_INTERVAL_MS: "200",
  });
  try {
    const user = await registerUser(h);
    // Left by an instance that crashed long ago (older than the timeout, 5 s, plus 60 s),
    // and one by a call still running elsewhere.
    const crashed = crypto.randomUUID();
    const running = crypto.randomUUID();
    for (const [id, ageMs] of [[crashed, 70_000], [running, 1_000]] as const) {
      await insertPendingUsage(h.services.sql, {
        id,
        userId: user.id,
        apiKeyId: null,
        model: "m-fast",
        promptTokensEstimate: 7,
        conversationId: null,
        occurredAt: new Date(Date.now() - ageMs),
      });
    }
    const statusOf = async (id: string) => {
      const [row] = await h.services.sql<(LedgerRow & { id: string })[]>`
        select id, status, usage_source, input_tokens, output_tokens, cost_usd::float8 as cost_usd
        from usage_records where id = ${id}`;
      return row!;
    };
    const billed = await eventually(async () => {
      const row = await statusOf(crashed);
      return row.status === "pending" ? undefined : row;
    });
    assert.equal(billed.status, "incomplete");
    assert.equal(billed.usage_source, "estimated");
    assert.equal(billed.input_tokens, 7);
    assert.equal(billed.cost_usd, 0.000007, "7 tokens at 1 USD per million");
    assert.equal(await tokensUsed(h, user.accessToken), 7, "billed on the limiter too");
    // Several sweeps later the running call is still its own to settle.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal((await statusOf(running)).status, "pending");
  } finally {
    await close();
  }
});
