import assert from "node:assert/strict";
import type { QuotaSnapshot } from "../src/webhooks/mod.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";
import {
  createWebhook,
  Receiver,
  startSecondInstance,
  verify,
  waitFor,
  webhookEnv,
} from "./support/webhooks.ts";

async function eventCount(h: TestApp, type: string, userId?: string): Promise<number> {
  const [row] = await h.services.sql<{ n: number }[]>`
    select count(*)::int as n from webhook_events
    where type = ${type} and (${userId ?? null}::uuid is null or user_id = ${
    userId ?? null
  }::uuid)`;
  return row!.n;
}

Deno.test("security.refresh_reuse: a reused refresh token sends {user_id, session_id} once", async () => {
  const receiver = new Receiver();
  const h = await startTestApp(webhookEnv({ REFRESH_REUSE_GRACE_SECONDS: "0" }));
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, {
      url: receiver.url(),
      events: ["security.refresh_reuse"],
    });
    const who = await (await h.json("GET", "/v1/auth/whoami", undefined, {
      token: user.accessToken,
    })).json();
    const first = await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken });
    assert.equal(first.status, 200);
    const reuse = await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken });
    assert.equal(reuse.status, 401);
    const again = await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken });
    assert.equal(again.status, 401);
    const got = await waitFor("the reuse event", () => receiver.received[0]);
    const payload = verify(hook.secret, got);
    assert.equal(payload.type, "security.refresh_reuse");
    assert.deepEqual(payload.data, { user_id: user.id, session_id: who.principal.session_id });
    assert.equal(await eventCount(h, "security.refresh_reuse", user.id), 1);
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("security.login_locked: sent once when the account-wide failure budget runs out", async () => {
  const receiver = new Receiver();
  const h = await startTestApp(webhookEnv({ LOGIN_FAILURES_PER_ACCOUNT: "3" }));
  try {
    const user = await registerUser(h);
    const bystander = await registerUser(h);
    const hook = await createWebhook(h, user, {
      url: receiver.url(),
      events: ["security.login_locked"],
    });
    const fail = (ip: string) =>
      h.json("POST", "/v1/auth/login", { email: user.email, password: "wrong-password-1" }, {
        ip,
      });
    assert.equal((await fail("192.0.2.11")).status, 401);
    assert.equal((await fail("192.0.2.12")).status, 401);
    assert.equal(await eventCount(h, "security.login_locked"), 0, "budget not yet spent");
    assert.equal((await fail("192.0.2.13")).status, 401);
    const got = await waitFor("the lock event", () => receiver.received[0]);
    const payload = verify(hook.secret, got);
    assert.equal(payload.type, "security.login_locked");
    assert.deepEqual(payload.data, { user_id: user.id });
    // Further attempts while locked do not send it again.
    for (const ip of ["192.0.2.14", "192.0.2.15", "192.0.2.16"]) {
      assert.equal((await fail(ip)).status, 429);
    }
    assert.equal(await eventCount(h, "security.login_locked"), 1);
    // Failures for an unknown email lock nobody's account and send nothing.
    for (const ip of ["192.0.2.21", "192.0.2.22", "192.0.2.23"]) {
      await h.json("POST", "/v1/auth/login", {
        email: "nobody@example.com",
        password: "wrong-password-1",
      }, { ip });
    }
    assert.equal(await eventCount(h, "security.login_locked"), 1);
    assert.equal(await eventCount(h, "security.login_locked", bystander.id), 0);
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("api_key.expiring: 7 days and 1 day before, from sweeps on two instances at once, each window once", async () => {
  const receiver = new Receiver();
  const env = webhookEnv({ WEBHOOK_SWEEP_INTERVAL_S: "1" });
  const h = await startTestApp(env);
  let other: TestApp | undefined;
  try {
    other = await startSecondInstance(h, env);
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, {
      url: receiver.url(),
      events: ["api_key.expiring"],
    });
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
    const week = await createKey(h, user, { name: "in 3 days", expires_at: inDays(3) });
    const day = await createKey(h, user, { name: "in 12 hours", expires_at: inDays(0.5) });
    await createKey(h, user, { name: "in 30 days", expires_at: inDays(30) });
    // Revoked before it enters the window (the sweep timers are running meanwhile).
    const revoked = await createKey(h, user, { name: "revoked", expires_at: inDays(20) });
    await h.json("DELETE", `/v1/api-keys/${revoked.id}`, undefined, { token: user.accessToken });
    await h.services.sql`
      update api_keys set expires_at = now() + interval '2 days' where id = ${revoked.id}`;

    // Both instances' sweep timers run, and more sweeps race on top of them.
    await Promise.all([
      h.services.webhooks.sweepExpiringKeys(),
      other.services.webhooks.sweepExpiringKeys(),
      h.services.webhooks.sweepExpiringKeys(),
      other.services.webhooks.sweepExpiringKeys(),
    ]);
    await waitFor("two expiry events", () => receiver.received.length >= 2);
    const payloads = receiver.received.map((r) => verify(hook.secret, r));
    const byKey = new Map(payloads.map((p) => [p.data.api_key_id, p]));
    assert.deepEqual(byKey.get(week.id)?.data, {
      api_key_id: week.id,
      user_id: user.id,
      expires_at: week.body.expires_at,
    });
    assert.equal(byKey.get(day.id)?.type, "api_key.expiring");
    assert.equal(await eventCount(h, "api_key.expiring"), 2, "one event per key and window");

    // The 3-day key enters its last day: the 1-day window's event comes once.
    await h.services.sql`
      update api_keys set expires_at = now() + interval '20 hours' where id = ${week.id}`;
    await Promise.all([
      h.services.webhooks.sweepExpiringKeys(),
      other.services.webhooks.sweepExpiringKeys(),
    ]);
    await waitFor("the 1-day event", () => receiver.received.length >= 3);
    // Let both sweep timers run again: nothing new.
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal(await eventCount(h, "api_key.expiring"), 3);
    assert.equal(receiver.received.length, 3);
  } finally {
    await other?.close();
    await h.close();
    await receiver.close();
  }
});

function snapshot(user: TestUser, over: Partial<QuotaSnapshot>): QuotaSnapshot {
  const periodStart = Math.floor(Date.UTC(2026, 10, 30) / 1000);
  return {
    user_id: user.id,
    api_key_id: null,
    policy: "tokens_per_day",
    scope: "user",
    limit: 1000,
    used: 0,
    period_start: periodStart,
    reset: periodStart + 86_400,
    ...over,
  };
}

Deno.test("quota.threshold: two instances settling in parallel send exactly one signed event per threshold", async (t) => {
  const receiver = new Receiver();
  const env = webhookEnv();
  const h = await startTestApp(env);
  let other: TestApp | undefined;
  try {
    other = await startSecondInstance(h, env);
    const user = await registerUser(h);
    const admin = await registerUser(h, { role: "admin" });
    const stranger = await registerUser(h);
    const hook = await createWebhook(h, user, {
      url: receiver.url("/user"),
      events: ["quota.threshold"],
    });
    const everyone = await createWebhook(h, admin, {
      url: receiver.url("/admin"),
      events: ["quota.threshold"],
      all_users: true,
    });
    await createWebhook(h, stranger, {
      url: receiver.url("/stranger"),
      events: ["quota.threshold"],
    });
    const instances = [h.services.webhooks, other.services.webhooks];
    const userEvents = () =>
      receiver.received.filter((r) => r.path === "/user").map((r) => verify(hook.secret, r));

    await t.step(
      "tokens_per_day 50/80/100 from concurrent settlements on both instances",
      async () => {
        const useds = [120, 510, 530, 700, 820, 990, 1000, 1200];
        await Promise.all(
          useds.flatMap((used) => instances.map((w) => w.quotaSettled([snapshot(user, { used })]))),
        );
        await waitFor("three user deliveries", () => userEvents().length >= 3);
        const thresholds = userEvents().map((p) => p.data.threshold).sort((a, b) =>
          Number(a) - Number(b)
        );
        assert.deepEqual(thresholds, [50, 80, 100]);
        const fifty = userEvents().find((p) => p.data.threshold === 50)!;
        assert.equal(fifty.type, "quota.threshold");
        assert.deepEqual(Object.keys(fifty.data).sort(), [
          "api_key_id",
          "limit",
          "period_start",
          "policy",
          "reset",
          "scope",
          "threshold",
          "used",
          "user_id",
        ]);
        assert.equal(fifty.data.user_id, user.id);
        assert.equal(fifty.data.api_key_id, null);
        assert.equal(fifty.data.limit, 1000);
        assert.equal(await eventCount(h, "quota.threshold", user.id), 3);
      },
    );

    await t.step(
      "one call crossing several thresholds sends each; a refusal sends 100 once",
      async () => {
        const usd = { policy: "usd_per_day", limit: 2.5 };
        await Promise.all(
          instances.map((w) => w.quotaSettled([snapshot(user, { ...usd, used: 2.0 })])),
        );
        await Promise.all(
          instances.map((w) => w.quotaRefused(snapshot(user, { ...usd, used: 2.4 }))),
        );
        await Promise.all(
          instances.map((w) => w.quotaRefused(snapshot(user, { ...usd, used: 2.4 }))),
        );
        await waitFor("six user deliveries", () => userEvents().length >= 6);
        const usdEvents = userEvents().filter((p) => p.data.policy === "usd_per_day");
        assert.deepEqual(
          usdEvents.map((p) => p.data.threshold).sort((a, b) => Number(a) - Number(b)),
          [50, 80, 100],
        );
      },
    );

    await t.step("api_key scope carries the key id; a new period fires again", async () => {
      const key = await createKey(h, user, { name: "budgeted" });
      const keySnap = snapshot(user, {
        scope: "api_key",
        api_key_id: key.id,
        policy: "usd_per_month",
        limit: 10,
        used: 5,
      });
      await Promise.all(instances.map((w) => w.quotaSettled([keySnap])));
      const next = keySnap.period_start + 30 * 86_400;
      await Promise.all(
        instances.map((w) =>
          w.quotaSettled([{ ...keySnap, period_start: next, reset: next + 86_400 }])
        ),
      );
      await waitFor("eight user deliveries", () => userEvents().length >= 8);
      const keyEvents = userEvents().filter((p) => p.data.scope === "api_key");
      assert.equal(keyEvents.length, 2);
      assert.ok(keyEvents.every((p) => p.data.api_key_id === key.id && p.data.threshold === 50));
    });

    await t.step(
      "an admin's all_users endpoint gets every user's events; others get none",
      async () => {
        await waitFor(
          "eight admin deliveries",
          () => receiver.received.filter((r) => r.path === "/admin").length >= 8,
        );
        for (
          const r of receiver.received.filter((r) => r.path === "/admin")
        ) {
          assert.equal(verify(everyone.secret, r).data.user_id, user.id);
        }
        assert.equal(receiver.received.filter((r) => r.path === "/stranger").length, 0);
      },
    );

    await t.step("each delivery went out once although two workers share the outbox", async () => {
      await new Promise((r) => setTimeout(r, 300));
      const counts = new Map<string, number>();
      for (const r of receiver.received) {
        const k = `${r.path}:${r.id}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      assert.ok([...counts.values()].every((n) => n === 1), JSON.stringify([...counts]));
      assert.equal(receiver.received.length, 16);
    });
  } finally {
    await other?.close();
    await h.close();
    await receiver.close();
  }
});
