/**
 * Spend control end to end: budgets and token quotas hold under concurrency
 * (two instances sharing one Postgres and Redis when TEST_DATABASE_URL and
 * TEST_REDIS_URL are set; one instance with the in-memory backend otherwise),
 * across a user's credentials, through a limiter flush, and fail closed.
 */
import assert from "node:assert/strict";
import {
  startTestApp,
  startTwinApp,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestApp,
} from "./support/harness.ts";
import { deleteKeys } from "./support/redis_keys.ts";
import { startUpstashRestServer } from "./support/upstash_rest_server.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";
import { MemorySpendCounters } from "../src/spend/counters.ts";
import type { LimitSnapshot } from "../src/spend/service.ts";
import { eventually } from "./support/chat.ts";
import { createWebhook, Receiver, verify, waitFor, webhookEnv } from "./support/webhooks.ts";
import { apiKeyStart, generateApiKey, hashApiKey } from "../src/auth/api_key_format.ts";
import { insertApiKey } from "../src/db/api_keys.ts";
import { insertUser } from "../src/db/users.ts";
import { parseSse } from "./support/sse.ts";

const METRICS_TOKEN = "metrics-token-" + crypto.randomUUID();
const PROMPT = "please count to ten"; // 5 tokens in; "Echo: please count to ten" is 7 out
const backendName = () => TEST_REDIS_URL ? "redis" : "memory";

async function instances(env: Record<string, string> = {}): Promise<TestApp[]> {
  // The per-user cap on concurrent answers stays out of the way: the budget must hold alone.
  const h = await startTestApp({ METRICS_TOKEN, MAX_CONCURRENT_QUERIES_PER_USER: "100", ...env });
  // Two instances need a shared database and limiter: real Postgres and Redis.
  if (TEST_DATABASE_URL && TEST_REDIS_URL) return [h, await startTwinApp(h)];
  return [h];
}

async function closeAll(apps: TestApp[]): Promise<void> {
  for (const app of [...apps].reverse()) await app.close();
}

function ask(h: TestApp, credential: string, extra: Record<string, unknown> = {}) {
  return h.json("POST", "/v1/query", {
    prompt: PROMPT,
    mode: "balanced",
    models: ["echo-smart"],
    max_tokens: 20,
    ...extra,
  }, { token: credential });
}

async function setUserBudget(h: TestApp, admin: TestUser, user: TestUser, usd: number | null) {
  const res = await h.json("PATCH", `/v1/users/${user.id}`, { budget_usd_per_day: usd }, {
    token: admin.accessToken,
  });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/** What the ledger recorded for a user (settled rows). */
async function ledger(h: TestApp, userId: string) {
  const [row] = await h.services.sql<{ calls: number; cost: string; tokens: string }[]>`
    select count(*)::int as calls, coalesce(sum(cost_usd), 0)::text as cost,
           coalesce(sum(input_tokens + output_tokens), 0)::text as tokens
    from usage_records where user_id = ${userId} and status <> 'pending'`;
  return { calls: row!.calls, cost: Number(row!.cost), tokens: Number(row!.tokens) };
}

/** A user and an API key written straight to the database (no auth endpoint involved). */
async function keyedUser(h: TestApp): Promise<{ id: string; key: string }> {
  const user = await insertUser(h.services.sql, {
    email: `spend-${crypto.randomUUID()}@example.com`,
    passwordHash: "unused",
  });
  const key = generateApiKey();
  await insertApiKey(h.services.sql, {
    userId: user.id,
    name: "direct",
    keyHash: hashApiKey(key),
    start: apiKeyStart(key),
    scopes: ["query"],
    chatbotId: null,
    tier: null,
    perMinute: null,
    perDay: null,
    expiresAt: null,
  });
  return { id: user.id, key };
}

async function refusalOf(res: Response) {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter >= 1, "Retry-After until the period resets");
  const body = await res.json();
  assert.equal(body.error, "rate_limited");
  return body.detail as {
    policy: string;
    scope: string;
    limit: number;
    remaining: number;
    reset: number;
  };
}

async function fire(
  requests: (() => Promise<Response>)[],
): Promise<{ admitted: number; refused: Response[]; costs: number[] }> {
  const responses = await Promise.all(requests.map((send) => send()));
  const refused: Response[] = [];
  const costs: number[] = [];
  for (const res of responses) {
    if (res.status === 200) costs.push((await res.json()).usage.cost_usd);
    else refused.push(res);
  }
  return { admitted: costs.length, refused, costs };
}

/** The limiter backends to run the concurrency test on: every one this run can reach. */
async function backends(): Promise<
  { name: string; env: Record<string, string>; stop(): Promise<void> }[]
> {
  if (!TEST_REDIS_URL) return [{ name: "memory", env: {}, stop: () => Promise.resolve() }];
  const token = `tok_${crypto.randomUUID()}`;
  const upstash = await startUpstashRestServer(TEST_REDIS_URL, token);
  return [
    { name: "redis", env: {}, stop: () => Promise.resolve() },
    {
      name: "upstash",
      env: {
        RATE_LIMIT_BACKEND: "upstash",
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: token,
      },
      stop: () => upstash.close(),
    },
  ];
}

Deno.test("spend: concurrent calls on two instances never exceed a user's USD budget", async (t) => {
  for (const backend of await backends()) {
    await t.step(backend.name, async () => {
      const apps = await instances(backend.env);
      const [h] = apps as [TestApp];
      try {
        const admin = await registerUser(h, { role: "admin" });
        const user = await registerUser(h);
        const budget = 0.0005; // 500 micro-dollars; a call reserves 85 and costs 33 (echo-smart)
        await setUserBudget(h, admin, user, budget);
        const sent = 24;
        const { admitted, refused, costs } = await fire(
          Array.from(
            { length: sent },
            (_, i) => () => ask(apps[i % apps.length]!, user.accessToken),
          ),
        );
        for (const res of refused) {
          const detail = await refusalOf(res);
          assert.equal(detail.policy, "usd_per_day");
          assert.equal(detail.scope, "user");
          assert.equal(detail.limit, budget);
          assert.ok(detail.remaining >= 0);
        }
        const recorded = await ledger(h, user.id);
        console.log(
          `[spend figures] usd_per_day, backend=${backend.name}, instances=${apps.length}: ` +
            `sent=${sent} admitted=${admitted} refused=${refused.length} budget=$${budget} ` +
            `recorded=$${recorded.cost.toFixed(6)} (${recorded.calls} calls)`,
        );
        assert.ok(recorded.cost <= budget, `recorded ${recorded.cost} > budget ${budget}`);
        assert.ok(admitted >= 1 && refused.length >= 1);
        assert.equal(recorded.calls, admitted, "refused calls leave no usage row");
        const answered = Math.round(costs.reduce((a, b) => a + b, 0) * 1e6);
        assert.equal(answered, Math.round(recorded.cost * 1e6), "answers carry what was recorded");
      } finally {
        await closeAll(apps);
        await backend.stop();
      }
    });
  }
});

Deno.test("spend: concurrent calls on two instances never exceed tokens_per_day", async () => {
  const quota = 150; // a call reserves 5 + 20 tokens and uses 12
  const apps = await instances({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { tokens_per_day: quota } }),
  });
  const [h] = apps as [TestApp];
  try {
    const user = await registerUser(h);
    const sent = 24;
    const { admitted, refused } = await fire(
      Array.from({ length: sent }, (_, i) => () => ask(apps[i % apps.length]!, user.accessToken)),
    );
    for (const res of refused) {
      const detail = await refusalOf(res);
      assert.equal(detail.policy, "tokens_per_day");
      assert.equal(detail.scope, "user");
      assert.equal(detail.limit, quota);
    }
    const recorded = await ledger(h, user.id);
    console.log(
      `[spend figures] tokens_per_day, backend=${backendName()}, instances=${apps.length}: ` +
        `sent=${sent} admitted=${admitted} refused=${refused.length} quota=${quota} ` +
        `recorded=${recorded.tokens} tokens (${recorded.calls} calls)`,
    );
    assert.ok(recorded.tokens <= quota, `recorded ${recorded.tokens} > quota ${quota}`);
    assert.ok(admitted >= 1 && refused.length >= 1);
  } finally {
    await closeAll(apps);
  }
});

Deno.test("spend: a user's JWT and two keys in parallel share the user's budget", async () => {
  const apps = await instances();
  const [h] = apps as [TestApp];
  try {
    const admin = await registerUser(h, { role: "admin" });
    const user = await registerUser(h);
    const budget = 0.0004;
    await setUserBudget(h, admin, user, budget);
    const one = await createKey(h, user, { name: "one" });
    const two = await createKey(h, user, { name: "two" });
    // Each key spends first, then all three credentials race for the rest.
    assert.equal((await ask(h, one.key)).status, 200);
    assert.equal((await ask(apps.at(-1)!, two.key)).status, 200);
    const credentials = [user.accessToken, one.key, two.key];
    const sent = 24;
    const { admitted, refused } = await fire(
      Array.from(
        { length: sent },
        (_, i) => () => ask(apps[i % apps.length]!, credentials[i % credentials.length]!),
      ),
    );
    for (const res of refused) assert.equal((await refusalOf(res)).scope, "user");
    const recorded = await ledger(h, user.id);
    console.log(
      `[spend figures] shared budget (JWT + 2 keys), backend=${backendName()}, ` +
        `instances=${apps.length}: sent=${sent + 2} admitted=${admitted + 2} ` +
        `budget=$${budget} recorded=$${recorded.cost.toFixed(6)}`,
    );
    assert.ok(recorded.cost <= budget);
    assert.ok(refused.length >= 1);
    const [keyed] = await h.services.sql<{ n: number }[]>`
      select count(distinct api_key_id)::int as n from usage_records
      where user_id = ${user.id} and api_key_id is not null`;
    assert.equal(keyed!.n, 2, "both keys' calls count against the user's budget");
  } finally {
    await closeAll(apps);
  }
});

Deno.test("spend: key budgets, updateApiKey and who may change which budget", async (t) => {
  const h = await startTestApp({ METRICS_TOKEN });
  try {
    const admin = await registerUser(h, { role: "admin" });
    const user = await registerUser(h);
    let key: { id: string; key: string; body: Record<string, unknown> };

    await t.step("createApiKey takes budgets; key objects show them", async () => {
      key = await createKey(h, user, {
        name: "budgeted",
        scopes: ["query", "usage:read", "keys:write"],
        budget_usd_per_day: 0.0001,
      });
      assert.equal(key.body.budget_usd_per_day, 0.0001);
      assert.equal(key.body.budget_usd_per_month, null);
      const got = await (await h.json("GET", `/v1/api-keys/${key.id}`, undefined, {
        token: user.accessToken,
      })).json();
      assert.equal(got.budget_usd_per_day, 0.0001);
      const bad = await h.json("POST", "/v1/api-keys", { name: "x", budget_usd_per_day: 0 }, {
        token: user.accessToken,
      });
      assert.equal(bad.status, 422, "a budget is > 0");
      const precise = await h.json(
        "POST",
        "/v1/api-keys",
        { name: "x", budget_usd_per_day: 0.0000001 },
        { token: user.accessToken },
      );
      assert.equal(precise.status, 422, "at most 6 decimals");
    });

    await t.step("a key's budget refuses with scope api_key", async () => {
      // 100 micro-dollars: one call (85 reserved, 33 used); the next needs 33 + 85 > 100.
      assert.equal((await ask(h, key.key)).status, 200);
      const detail = await refusalOf(await ask(h, key.key));
      assert.deepEqual([detail.policy, detail.scope, detail.limit], [
        "usd_per_day",
        "api_key",
        0.0001,
      ]);
      // The user's JWT is not limited by the key's budget.
      assert.equal((await ask(h, user.accessToken)).status, 200);
    });

    await t.step("a key may lower its budget, never raise or clear it", async () => {
      const patch = (body: Record<string, unknown>, credential: string) =>
        h.json("PATCH", `/v1/api-keys/${key.id}`, body, { token: credential });
      assert.equal((await patch({ budget_usd_per_day: 0.001 }, key.key)).status, 403);
      assert.equal((await patch({ budget_usd_per_day: null }, key.key)).status, 403);
      const lowered = await patch({ budget_usd_per_day: 0.00009, name: "lower" }, key.key);
      assert.equal(lowered.status, 200, await lowered.clone().text());
      assert.equal((await lowered.json()).budget_usd_per_day, 0.00009);
      // Month budget: none yet, so any value is a lowering.
      assert.equal((await patch({ budget_usd_per_month: 1 }, key.key)).status, 200);
      // The owner's JWT may raise and clear.
      const raised = await patch({ budget_usd_per_day: null }, user.accessToken);
      assert.equal(raised.status, 200);
      assert.equal((await raised.json()).budget_usd_per_day, null);
      assert.equal((await ask(h, key.key)).status, 200, "budget cleared: admitted again");
      // Admin-only fields and strictness.
      assert.equal((await patch({ tier: "pro" }, user.accessToken)).status, 403);
      assert.equal((await patch({ unknown: 1 }, user.accessToken)).status, 422);
      assert.equal((await patch({ tier: "pro" }, admin.accessToken)).status, 200);
      // Another user's key looks missing.
      const other = await registerUser(h);
      assert.equal((await patch({ name: "mine" }, other.accessToken)).status, 404);
    });

    await t.step(
      "a key cannot change keys it could not create, nor mint a richer key",
      async () => {
        const wide = await createKey(h, user, { name: "wide", scopes: ["query", "chat"] });
        const narrow = await createKey(h, user, {
          name: "narrow",
          scopes: ["keys:write", "query"],
          budget_usd_per_day: 0.5,
        });
        const res = await h.json("PATCH", `/v1/api-keys/${wide.id}`, { name: "x" }, {
          token: narrow.key,
        });
        assert.equal(res.status, 403, "chat is beyond the narrow key's scopes");
        const richer = await h.json("POST", "/v1/api-keys", {
          name: "richer",
          scopes: ["query"],
          budget_usd_per_day: 5,
        }, { token: narrow.key });
        assert.equal(richer.status, 403);
        const inherited = await h.json(
          "POST",
          "/v1/api-keys",
          { name: "child", scopes: ["query"] },
          {
            token: narrow.key,
          },
        );
        assert.equal(inherited.status, 201);
        assert.equal((await inherited.json()).budget_usd_per_day, 0.5);
      },
    );

    await t.step("a user cannot set their own budget; an admin can", async () => {
      const self = await h.json("PATCH", `/v1/users/${user.id}`, { budget_usd_per_day: 100 }, {
        token: user.accessToken,
      });
      assert.equal(self.status, 403);
      const set = await setUserBudget(h, admin, user, 2.5);
      assert.equal(set.budget_usd_per_day, 2.5);
      const bad = await h.json("PATCH", `/v1/users/${user.id}`, { budget_usd_per_day: -1 }, {
        token: admin.accessToken,
      });
      assert.equal(bad.status, 422);
    });

    await t.step("/metrics counts refusals per policy", async () => {
      const res = await h.request("/metrics", {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      const text = await res.text();
      assert.match(
        text,
        /gatehouse_spend_refusals_total\{policy="usd_per_day",scope="api_key"\} [1-9]/,
      );
    });
  } finally {
    await h.close();
  }
});

Deno.test("spend: getQuotas and listUsageRecords", async (t) => {
  const h = await startTestApp({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { tokens_per_day: 10_000, usd_per_month: 50 } }),
  });
  try {
    const admin = await registerUser(h, { role: "admin" });
    const user = await registerUser(h);
    await setUserBudget(h, admin, user, 1);
    const key = await createKey(h, user, {
      name: "k",
      scopes: ["query", "usage:read"],
      budget_usd_per_month: 3,
    });
    assert.equal((await ask(h, key.key)).status, 200);

    await t.step("with a JWT: the user's limits, used and remaining", async () => {
      const res = await h.json("GET", "/v1/usage/quotas", undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 200);
      const { items } = await res.json();
      const byName = Object.fromEntries(
        items.map((i: Record<string, unknown>) => [`${i.policy}/${i.scope}`, i]),
      );
      assert.deepEqual(Object.keys(byName).sort(), [
        "tokens_per_day/user",
        "usd_per_day/user",
        "usd_per_month/user",
      ]);
      const tokens = byName["tokens_per_day/user"];
      assert.equal(tokens.unit, "tokens");
      assert.equal(tokens.limit, 10_000);
      assert.equal(tokens.used, 12);
      assert.equal(tokens.reserved, 0);
      assert.equal(tokens.remaining, 10_000 - 12);
      const day = byName["usd_per_day/user"];
      assert.equal(day.unit, "usd");
      assert.equal(day.used, 0.000033);
      assert.equal(day.remaining, 0.999967);
      assert.equal(day.period_start % 86_400, 0);
      assert.equal(day.reset, day.period_start + 86_400);
      assert.equal(byName["usd_per_month/user"].limit, 50);
    });

    await t.step("with a key: also that key's budgets", async () => {
      const { items } = await (await h.json("GET", "/v1/usage/quotas", undefined, {
        token: key.key,
      })).json();
      const keyed = items.filter((i: { scope: string }) => i.scope === "api_key");
      assert.deepEqual(
        keyed.map((i: { policy: string; limit: number; used: number }) => [
          i.policy,
          i.limit,
          i.used,
        ]),
        [["usd_per_month", 3, 0.000033]],
      );
    });

    await t.step("another user's id: 404 for a user, theirs for an admin", async () => {
      const other = await h.json("GET", `/v1/usage/quotas?user_id=${admin.id}`, undefined, {
        token: user.accessToken,
      });
      assert.equal(other.status, 404);
      const asAdmin = await h.json("GET", `/v1/usage/quotas?user_id=${user.id}`, undefined, {
        token: admin.accessToken,
      });
      assert.equal(asAdmin.status, 200);
      const { items } = await asAdmin.json();
      assert.ok(items.every((i: { scope: string }) => i.scope === "user"));
    });

    await t.step("listUsageRecords pages the ledger with usage_source", async () => {
      assert.equal((await ask(h, user.accessToken)).status, 200);
      const res = await h.json("GET", "/v1/usage/records?limit=1", undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 200);
      const page = await res.json();
      assert.equal(page.total, 2);
      assert.equal(page.items.length, 1);
      const [row] = page.items;
      assert.equal(row.api_key_id, null, "newest first: the JWT call");
      assert.equal(row.usage_source, "provider");
      assert.equal(row.status, "complete");
      assert.equal(row.cost_usd, 0.000033);
      assert.deepEqual([row.input_tokens, row.output_tokens], [5, 7]);
      assert.match(row.conversation_id, /^[0-9a-f-]{36}$/);
      const second = await (await h.json("GET", "/v1/usage/records?offset=1", undefined, {
        token: user.accessToken,
      })).json();
      assert.equal(second.items[0].api_key_id, key.id);
      const foreign = await h.json("GET", `/v1/usage/records?user_id=${admin.id}`, undefined, {
        token: user.accessToken,
      });
      assert.equal(foreign.status, 404);
    });
  } finally {
    await h.close();
  }
});

Deno.test("spend: counters rebuilt from the ledger after a limiter flush keep refusing", async () => {
  const quota = 60; // a call reserves 25 tokens and uses 12
  const h = await startTestApp({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { tokens_per_day: quota } }),
  });
  try {
    const user = await registerUser(h);
    const quotaNow = async () => {
      const { items } = await (await h.json("GET", "/v1/usage/quotas", undefined, {
        token: user.accessToken,
      })).json();
      return items.find((i: { policy: string }) => i.policy === "tokens_per_day");
    };
    let admitted = 0;
    while ((await ask(h, user.accessToken)).status === 200) admitted += 1;
    const before = await quotaNow();
    assert.equal(before.used, admitted * 12);

    // Redis loses the period's counters (restart, flush): only this app's keys are dropped.
    if (h.services.spend.counters instanceof MemorySpendCounters) {
      h.services.spend.counters.clear();
    } else {
      const removed = await deleteKeys(TEST_REDIS_URL!, `${h.config.RATE_LIMIT_PREFIX}:spend:*`);
      assert.ok(removed >= 1, "the counters were in Redis");
    }
    const after = await quotaNow();
    assert.equal(after.used, before.used, "rebuilt from the usage rows");
    await refusalOf(await ask(h, user.accessToken));
  } finally {
    await h.close();
  }
});

Deno.test("spend: limiter unreachable fails model calls closed (503) unless SPEND_FAIL_OPEN", async () => {
  // Nothing listens on port 1: the limiter backend is down. (Registering would be refused
  // too, by the fail-closed login limits, so the caller's key is made in the database.)
  const down = { RATE_LIMIT_BACKEND: "redis", REDIS_URL: "redis://127.0.0.1:1" };
  const closed = await startTestApp(down);
  try {
    const user = await keyedUser(closed);
    const res = await ask(closed, user.key);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error, "service_unavailable");
    const [row] = await closed.services.sql<{ n: number }[]>`
      select count(*)::int as n from usage_records where user_id = ${user.id}`;
    assert.equal(row!.n, 0, "nothing was called upstream");
  } finally {
    await closed.close();
  }
  const open = await startTestApp({ ...down, SPEND_FAIL_OPEN: "true" });
  try {
    const user = await keyedUser(open);
    const res = await ask(open, user.key);
    assert.equal(res.status, 200);
    const recorded = await ledger(open, user.id);
    assert.equal(recorded.calls, 1, "still recorded in the ledger");
  } finally {
    await open.close();
  }
});

Deno.test("spend: answers carry usage.cost_usd on every way in, echo honours the output cap", async (t) => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h);
    await t.step("sendChatMessage JSON and SSE done carry usage with cost", async () => {
      const json = await (await h.json("POST", "/v1/chat/messages", { message: PROMPT }, {
        token: user.accessToken,
      })).json();
      assert.deepEqual(json.usage, { input_tokens: 5, output_tokens: 7, cost_usd: 0.000033 });
      const sse = await (await h.json("POST", "/v1/chat/messages", {
        message: PROMPT,
        stream: true,
      }, { token: user.accessToken })).text();
      const usageOf = (name: string) =>
        (parseSse(sse).events.find((e) => e.event === name)?.data as { usage?: unknown })?.usage;
      const usage = { input_tokens: 5, output_tokens: 7, cost_usd: 0.000033 };
      assert.deepEqual(usageOf("usage"), usage);
      assert.deepEqual(usageOf("done"), usage);
    });
    await t.step("echo cuts at 4 x max_tokens characters with finish_reason length", async () => {
      const body = await (await ask(h, user.accessToken, { max_tokens: 2 })).json();
      assert.equal(body.answers[0].content, "Echo: pl");
      assert.equal(body.answers[0].finish_reason, "length");
      assert.deepEqual(body.usage, { input_tokens: 5, output_tokens: 2, cost_usd: 0.000013 });
    });
  } finally {
    await h.close();
  }
});

Deno.test("spend: observers hear every settlement and refusal, off the request path", async () => {
  const h = await startTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const user = await registerUser(h);
    await setUserBudget(h, admin, user, 0.0001);
    const settled: LimitSnapshot[][] = [];
    const refused: LimitSnapshot[] = [];
    h.services.spend.observe({
      onSettled: (snapshots) => void settled.push(snapshots),
      onRefused: (snapshot) => void refused.push(snapshot),
    });
    // An observer that throws never fails a request.
    h.services.spend.observe({
      onSettled: () => {
        throw new Error("observer down");
      },
      onRefused: () => Promise.reject(new Error("observer down")),
    });
    assert.equal((await ask(h, user.accessToken)).status, 200);
    await refusalOf(await ask(h, user.accessToken));
    await eventually(() =>
      Promise.resolve(settled.length === 1 && refused.length === 1 || undefined)
    );
    const day = settled[0]!.find((s) => s.policy === "usd_per_day")!;
    assert.deepEqual(
      [day.user_id, day.api_key_id, day.scope, day.limit, day.used, day.reset - day.period_start],
      [user.id, null, "user", 0.0001, 0.000033, 86_400],
    );
    assert.ok(settled[0]!.some((s) => s.policy === "tokens_per_day"));
    assert.deepEqual([refused[0]!.policy, refused[0]!.scope, refused[0]!.used], [
      "usd_per_day",
      "user",
      0.000033,
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("spend: real settlements and refusals send quota.threshold webhooks", async () => {
  const receiver = new Receiver();
  // 40 tokens a day: a call reserves 25 and uses 12 (30 %), the second brings it to 60 %,
  // the third would need 24 + 25 > 40 and is refused (100 % on the first refusal).
  const h = await startTestApp(webhookEnv({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { tokens_per_day: 40 } }),
  }));
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, {
      url: receiver.url("/quota"),
      events: ["quota.threshold"],
    });
    assert.equal((await ask(h, user.accessToken)).status, 200);
    assert.equal((await ask(h, user.accessToken)).status, 200);
    await refusalOf(await ask(h, user.accessToken));
    await waitFor("two quota deliveries", () => receiver.ofType("quota.threshold").length >= 2);
    const events = receiver.ofType("quota.threshold").map((r) => verify(hook.secret, r));
    assert.deepEqual(events.map((e) => e.data.threshold).sort(), [100, 50]);
    const fifty = events.find((e) => e.data.threshold === 50)!;
    assert.deepEqual(
      [fifty.data.user_id, fifty.data.api_key_id, fifty.data.policy, fifty.data.scope],
      [user.id, null, "tokens_per_day", "user"],
    );
    assert.deepEqual([fifty.data.limit, fifty.data.used], [40, 24]);
  } finally {
    await h.close();
    await receiver.close();
  }
});
