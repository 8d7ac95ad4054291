import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";
import {
  createWebhook,
  deliveries,
  Receiver,
  settled,
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
