import assert from "node:assert/strict";
import postgres from "postgres";
import { startTestApp, TEST_DATABASE_URL, type TestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";
import {
  createWebhook,
  deliveries,
  Receiver,
  settled,
  storedDeliveries,
  verify,
  waitFor,
  webhookEnv,
} from "./support/webhooks.ts";

Deno.test("webhook.test: one signed Standard Webhooks delivery the standardwebhooks package verifies", async () => {
  const receiver = new Receiver();
  const h = await startTestApp(webhookEnv());
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, { url: receiver.url(), events: ["webhook.test"] });
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const res = await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
      token: user.accessToken,
    });
    assert.equal(res.status, 202);
    const { event_id } = await res.json();
    const got = await waitFor("the test delivery", () => receiver.received[0]);
    assert.equal(got.id, event_id);
    const payload = verify(hook.secret, got);
    assert.equal(payload.type, "webhook.test");
    assert.deepEqual(payload.data, { webhook_id: hook.id });
    assert.ok(!Number.isNaN(Date.parse(payload.timestamp)));
    assert.equal(got.headers["content-type"], "application/json");
    await settled(h, hook.id, event_id, "delivered");
    const rows = await deliveries(h, user, hook.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.event_id, event_id);
    assert.equal(rows[0]!.type, "webhook.test");
    assert.equal(rows[0]!.attempt, 1);
    assert.equal(rows[0]!.response_status, 200);
    assert.equal(rows[0]!.next_attempt_at, null);
    assert.throws(() => verify(`whsec_${btoa("x".repeat(32))}`, got), "a wrong secret fails");
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("retries: same webhook-id and byte-identical body, attempt counts up, then delivered or failed", async (t) => {
  const receiver = new Receiver();
  const h = await startTestApp(
    webhookEnv({ WEBHOOK_RETRY_SCHEDULE: "100ms,200ms", WEBHOOK_TIMEOUT_MS: "300" }),
  );
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, { url: receiver.url(), events: ["webhook.test"] });
    const fire = async () => {
      const res = await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 202);
      return (await res.json()).event_id as string;
    };

    await t.step("two failures, then success on the third attempt", async () => {
      receiver.answer = (_r, n) => (n < 2 ? 503 : 200);
      const eventId = await fire();
      await settled(h, hook.id, eventId, "delivered");
      const row = (await deliveries(h, user, hook.id)).find((d) => d.event_id === eventId)!;
      assert.equal(row.status, "delivered");
      assert.equal(row.attempt, 3);
      assert.equal(row.response_status, 200);
      const attempts = receiver.received.filter((r) => r.id === eventId);
      assert.equal(attempts.length, 3);
      assert.ok(attempts.every((a) => a.body === attempts[0]!.body), "byte-identical body");
      for (const a of attempts) assert.equal(verify(hook.secret, a).type, "webhook.test");
    });

    await t.step("N delays mean N + 1 attempts, then failed with the last status", async () => {
      receiver.answer = () => 500;
      const eventId = await fire();
      await settled(h, hook.id, eventId, "failed");
      const row = (await deliveries(h, user, hook.id)).find((d) => d.event_id === eventId)!;
      assert.equal(row.attempt, 3);
      assert.equal(row.response_status, 500);
      assert.equal(row.next_attempt_at, null);
      assert.equal(receiver.received.filter((r) => r.id === eventId).length, 3);
    });

    await t.step("a redirect is a failed attempt and is not followed", async () => {
      receiver.answer = (r) => (r.path === "/hook" ? 302 : 200);
      const eventId = await fire();
      const row = await settled(h, hook.id, eventId, "failed");
      assert.equal(row.response_status, 302);
      assert.equal(receiver.received.filter((r) => r.path === "/redirected").length, 0);
    });

    await t.step("no answer within WEBHOOK_TIMEOUT_MS counts as a failed attempt", async () => {
      // A receiver that accepts the connection and never answers.
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        for await (const conn of listener) held.push(conn);
      })();
      try {
        const slow = await createWebhook(h, user, {
          url: `http://127.0.0.1:${listener.addr.port}/hook`,
          events: ["webhook.test"],
        });
        const res = await h.json("POST", `/v1/webhooks/${slow.id}/test`, undefined, {
          token: user.accessToken,
        });
        assert.equal(res.status, 202);
        const { event_id } = await res.json();
        const row = await settled(h, slow.id, event_id, "failed", 30_000);
        assert.equal(row.response_status, null);
        assert.equal(row.attempt, 3);
        assert.match(row.last_error!, /no answer within 300 ms/);
      } finally {
        listener.close();
        for (const conn of held) conn.close();
        await accepting.catch(() => {});
      }
    });
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("an endpoint whose last 20 deliveries failed is disabled, audited, refuses tests (409) and can be re-enabled", async () => {
  const receiver = new Receiver();
  receiver.answer = () => 500;
  const h = await startTestApp(webhookEnv({ WEBHOOK_RETRY_SCHEDULE: "none" }));
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, { url: receiver.url(), events: ["webhook.test"] });
    const fire = async () => {
      const res = await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
        token: user.accessToken,
      });
      return res;
    };
    const failedCount = async () =>
      (await storedDeliveries(h, hook.id)).filter((d) => d.status === "failed").length;
    const getHook = async () =>
      await (await h.json("GET", `/v1/webhooks/${hook.id}`, undefined, {
        token: user.accessToken,
      })).json();

    for (let i = 0; i < 19; i++) assert.equal((await fire()).status, 202);
    await waitFor("19 failed deliveries", async () => (await failedCount()) === 19);
    assert.equal((await getHook()).disabled, false, "19 failures are not enough");

    assert.equal((await fire()).status, 202);
    await waitFor("disabled after the 20th", async () => (await getHook()).disabled === true);
    const audit = await h.services.sql<{ user_id: string; detail: { webhook_id: string } }[]>`
      select user_id, detail from audit_events where action = 'webhook.disabled'`;
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.user_id, user.id);
    assert.equal(audit[0]!.detail.webhook_id, hook.id);

    const refused = await fire();
    assert.equal(refused.status, 409);
    assert.equal((await refused.json()).error, "conflict");

    const enable = await h.json("PATCH", `/v1/webhooks/${hook.id}`, { disabled: false }, {
      token: user.accessToken,
    });
    assert.equal(enable.status, 200);
    assert.equal((await enable.json()).disabled, false);
    // Re-enabling starts the count afresh: one more failure does not disable it again.
    const again = await fire();
    assert.equal(again.status, 202);
    const { event_id } = await again.json();
    await settled(h, hook.id, event_id, "failed");
    assert.equal((await getHook()).disabled, false);
    receiver.answer = () => 204;
    const ok = await (await fire()).json();
    await settled(h, hook.id, ok.event_id, "delivered");
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("deleting an endpoint cancels its pending deliveries", async () => {
  const receiver = new Receiver();
  receiver.answer = () => 503;
  const h = await startTestApp(webhookEnv({ WEBHOOK_RETRY_SCHEDULE: "300ms,300ms,300ms" }));
  try {
    const user = await registerUser(h);
    const hook = await createWebhook(h, user, { url: receiver.url(), events: ["webhook.test"] });
    const res = await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
      token: user.accessToken,
    });
    const { event_id } = await res.json();
    await waitFor("the first attempt", () => receiver.received.length >= 1);
    const [pending] = await storedDeliveries(h, hook.id);
    assert.equal(pending!.status, "pending");
    const del = await h.json("DELETE", `/v1/webhooks/${hook.id}`, undefined, {
      token: user.accessToken,
    });
    assert.equal(del.status, 204);
    assert.equal((await storedDeliveries(h, hook.id)).length, 0, "no pending delivery left");
    const seen = receiver.received.filter((r) => r.id === event_id).length;
    // Longer than the remaining schedule: a live delivery would have been retried by now.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(receiver.received.filter((r) => r.id === event_id).length, seen);
    const gone = await h.json("GET", `/v1/webhooks/${hook.id}/deliveries`, undefined, {
      token: user.accessToken,
    });
    assert.equal(gone.status, 404);
  } finally {
    await h.close();
    await receiver.close();
  }
});

Deno.test("restart: events left undelivered by a closed instance are delivered by a new one on the same database", async () => {
  const receiver = new Receiver();
  const dataDir = TEST_DATABASE_URL ? undefined : await Deno.makeTempDir({ prefix: "gh-wh-" });
  const env = webhookEnv({
    WEBHOOK_RETRY_SCHEDULE: "3s",
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
  });
  const first = await startTestApp(env, { keepSchema: true });
  let second: TestApp | undefined;
  let firstOpen = true;
  try {
    const user = await registerUser(first);
    const hook = await createWebhook(first, user, {
      url: receiver.url(),
      events: ["webhook.test"],
    });
    const fire = async (h: TestApp) =>
      (await (await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
        token: user.accessToken,
      })).json()).event_id as string;
    // One event fails its first attempt; its retry is due after the instance is gone.
    receiver.answer = () => 503;
    const failing = await fire(first);
    await waitFor("the failed first attempt", () => receiver.received.length >= 1);
    // Another is queued after this instance's worker stopped: never attempted here.
    await first.services.webhooks.stop();
    const queued = await fire(first);
    firstOpen = false;
    await first.close();
    assert.deepEqual(receiver.received.map((r) => r.id), [failing]);

    receiver.answer = () => 200;
    second = await startTestApp(env, { schema: first.schema });
    await settled(second, hook.id, queued, "delivered");
    await settled(second, hook.id, failing, "delivered");
    const attempts = receiver.received.filter((r) => r.id === failing);
    assert.equal(attempts.length, 2, "the failed attempt was retried with the same id");
    assert.equal(attempts[0]!.body, attempts[1]!.body);
    for (const r of receiver.received) assert.equal(verify(hook.secret, r).type, "webhook.test");
  } finally {
    if (firstOpen) await first.close();
    await second?.close();
    if (TEST_DATABASE_URL) {
      const cleanup = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop schema if exists ${first.schema} cascade`);
      await cleanup.end();
    }
    if (dataDir) await Deno.remove(dataDir, { recursive: true });
    await receiver.close();
  }
});
