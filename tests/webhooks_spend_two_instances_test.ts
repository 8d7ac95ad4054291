/**
 * quota.threshold end to end on two instances: real model calls through both,
 * real settlements and refusals, real deliveries to a loopback receiver that
 * verifies every signature with the standardwebhooks package.
 *
 * With TEST_DATABASE_URL and TEST_REDIS_URL the instances share one Postgres
 * schema and one Redis namespace, each with its own pools and connections.
 * Embedded, they share one PGlite connection and one in-memory limiter (the
 * only way two instances can share state there: both live in this process).
 */
import assert from "node:assert/strict";
import { startTestApp, TEST_DATABASE_URL, type TestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";
import {
  createWebhook,
  Receiver,
  startSecondInstance,
  storedDeliveries,
  verify,
  waitFor,
  webhookEnv,
} from "./support/webhooks.ts";

const PROMPT = "please count to ten"; // echo-smart: 5 tokens in, 7 out = $0.000033
const CALL_MICRO_USD = 33;
const BUDGET_USD = 0.001; // a call reserves $0.000085 (20 output tokens at most) until it settles
const PER_INSTANCE_PER_ROUND = 5;

interface Quota {
  policy: string;
  scope: string;
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  period_start: number;
  reset: number;
}

Deno.test("quota.threshold: a user spending on two instances in parallel until refused gets exactly one signed delivery per threshold", async () => {
  const receiver = new Receiver();
  const env = webhookEnv({
    // Request rates and the per-user concurrency cap stay out of the way: the budget refuses.
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 10_000, per_day: 100_000 } }),
    RATE_LIMIT_IP_PER_MINUTE: "10000",
    MAX_CONCURRENT_QUERIES_PER_USER: "100",
  });
  const h = await startTestApp(env);
  let other: TestApp | undefined;
  try {
    // Same limiter namespace; on the memory backend the same counters in this process.
    other = await startSecondInstance(
      h,
      { ...env, RATE_LIMIT_PREFIX: h.config.RATE_LIMIT_PREFIX },
      h.config.rateLimitBackend === "memory"
        ? {
          build: {
            limiter: { store: h.services.limits.store, spendCounters: h.services.spend.counters },
          },
        }
        : {},
    );
    assert.equal(other.config.rateLimitBackend, h.config.rateLimitBackend);
    const apps = [h, other];
    const mode = TEST_DATABASE_URL
      ? `postgres+${h.config.rateLimitBackend}`
      : `embedded+${h.config.rateLimitBackend}`;

    const admin = await registerUser(h, { role: "admin" });
    const user = await registerUser(h);
    const budget = await h.json("PATCH", `/v1/users/${user.id}`, {
      budget_usd_per_day: BUDGET_USD,
    }, { token: admin.accessToken });
    assert.equal(budget.status, 200, await budget.clone().text());
    // Created on the other instance: the endpoint lives in the shared database.
    const hook = await createWebhook(other, user, {
      url: receiver.url("/quota"),
      events: ["quota.threshold"],
    });

    // Rounds of parallel calls through both instances until a whole round is refused:
    // then no reservation is outstanding and what is left cannot pay for one more call.
    let sent = 0;
    let admitted = 0;
    let refused = 0;
    let answeredMicro = 0;
    for (let round = 1;; round++) {
      assert.ok(round <= 20, "the budget refuses within 20 rounds");
      const responses = await Promise.all(
        Array.from(
          { length: PER_INSTANCE_PER_ROUND * apps.length },
          (_, i) =>
            apps[i % apps.length]!.json("POST", "/v1/query", {
              prompt: PROMPT,
              mode: "balanced",
              models: ["echo-smart"],
              max_tokens: 20,
            }, { token: user.accessToken }),
        ),
      );
      sent += responses.length;
      let refusedThisRound = 0;
      for (const res of responses) {
        const body = await res.json();
        if (res.status === 200) {
          admitted += 1;
          answeredMicro += Math.round(body.usage.cost_usd * 1e6);
          continue;
        }
        assert.equal(res.status, 429, JSON.stringify(body));
        assert.deepEqual(
          [body.error, body.detail.policy, body.detail.scope, body.detail.limit],
          ["rate_limited", "usd_per_day", "user", BUDGET_USD],
        );
        refusedThisRound += 1;
      }
      refused += refusedThisRound;
      if (refusedThisRound === responses.length) break;
    }

    // What getQuotas says now, on either instance.
    const quotasOn = async (app: TestApp) => {
      const res = await app.json("GET", "/v1/usage/quotas", undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 200, await res.clone().text());
      const items: Quota[] = (await res.json()).items;
      return items.find((q) => q.policy === "usd_per_day" && q.scope === "user")!;
    };
    const quota = await quotasOn(h);
    assert.deepEqual(await quotasOn(other), quota, "both instances see one budget");
    assert.equal(quota.limit, BUDGET_USD);
    assert.equal(quota.reserved, 0, "every admitted call settled");
    const usedMicro = Math.round(quota.used * 1e6);
    assert.equal(usedMicro, admitted * CALL_MICRO_USD, "used is exactly the admitted calls");
    assert.equal(answeredMicro, usedMicro, "answers carry what getQuotas counts");
    assert.ok(usedMicro <= BUDGET_USD * 1e6, `used ${quota.used} within the budget`);
    assert.ok(
      usedMicro + 85 > BUDGET_USD * 1e6,
      "refused only when one more reservation would not fit",
    );

    // Every delivery arrives, then nothing more: no pending rows and no second copy.
    await waitFor("deliveries for 50, 80 and 100", () => {
      const seen = new Set(
        receiver.ofType("quota.threshold").map((r) => JSON.parse(r.body).data.threshold),
      );
      return seen.has(50) && seen.has(80) && seen.has(100);
    });
    await waitFor("every stored delivery delivered", async () => {
      const rows = await storedDeliveries(h, hook.id);
      return rows.length > 0 && rows.every((d) => d.status === "delivered");
    });
    // A few more polls of both workers: a duplicate attempt would land here.
    await new Promise((r) => setTimeout(r, 4 * h.config.WEBHOOK_POLL_INTERVAL_MS));

    const deliveries = receiver.ofType("quota.threshold");
    const counts = new Map<string, number>();
    const ids = new Set<string>();
    for (const got of deliveries) {
      const event = verify(hook.secret, got); // throws unless the signature holds
      assert.equal(event.type, "quota.threshold");
      assert.equal(got.path, "/quota");
      ids.add(got.id);
      const d = event.data;
      const key = `${d.policy}/${d.scope}/${d.threshold}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);

      assert.deepEqual(
        [d.user_id, d.api_key_id, d.policy, d.scope],
        [user.id, null, "usd_per_day", "user"],
      );
      assert.deepEqual(
        [d.limit, d.period_start, d.reset],
        [quota.limit, quota.period_start, quota.reset],
        `period and limit of ${key} as getQuotas shows them`,
      );
      const eventMicro = Math.round(Number(d.used) * 1e6);
      assert.equal(eventMicro % CALL_MICRO_USD, 0, `${key}: used is whole settled calls`);
      assert.ok(eventMicro <= usedMicro, `${key}: used ${d.used} <= today's ${quota.used}`);
      // 50 and 80 come from settlements that reached them; 100 from the first refusal.
      if (d.threshold !== 100) {
        assert.ok(
          eventMicro * 100 >= BUDGET_USD * 1e6 * Number(d.threshold),
          `${key}: used ${d.used} reaches the threshold`,
        );
      }
    }
    assert.equal(ids.size, deliveries.length, "each delivery has its own webhook-id");
    assert.deepEqual(Object.fromEntries(counts), {
      "usd_per_day/user/50": 1,
      "usd_per_day/user/80": 1,
      "usd_per_day/user/100": 1,
    });
    const rows = await storedDeliveries(h, hook.id);
    assert.equal(rows.length, 3, "one outbox row per event");
    assert.ok(rows.every((d) => d.attempt === 1 && d.response_status === 200));

    console.log(
      `[webhook figures] mode=${mode} instances=2: sent=${sent} admitted=${admitted} ` +
        `refused=${refused} budget=$${BUDGET_USD} used=$${quota.used.toFixed(6)}; ` +
        `signed quota.threshold deliveries usd_per_day/user: ` +
        [50, 80, 100].map((t) => `${t}%=${counts.get(`usd_per_day/user/${t}`)}`).join(" "),
    );
  } finally {
    await other?.close();
    await h.close();
    await receiver.close();
  }
});
