import assert from "node:assert/strict";
import type { Resolver } from "../src/webhooks/mod.ts";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";
import {
  createWebhook,
  Receiver,
  storedDeliveries,
  waitFor,
  webhookEnv,
} from "./support/webhooks.ts";

const PUBLIC_IP = "93.184.215.14";

/** Stub DNS: no real lookups in tests. */
function stubResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = (host: string) => {
    calls.push(host);
    return Promise.resolve(table[host] ?? []);
  };
  return Object.assign(resolve, { calls });
}

Deno.test("webhook endpoints: create shows the secret once, CRUD, validation and limits", async (t) => {
  const resolver = stubResolver({ "hooks.example.com": [PUBLIC_IP] });
  const h = await startTestApp(
    { JWT_SECRET: `api-test-${crypto.randomUUID()}` },
    // No worker: these endpoints point at a stub public address that must not be dialled.
    { build: { webhookResolver: resolver, webhookWorker: false } },
  );
  try {
    const user = await registerUser(h);
    const call = (method: string, path: string, body?: unknown, token = user.accessToken) =>
      h.json(method, path, body, { token });
    let id = "";
    let secret = "";

    await t.step("create: 201 with the secret, events deduplicated", async () => {
      const res = await call("POST", "/v1/webhooks", {
        url: "https://hooks.example.com/gatehouse",
        events: ["quota.threshold", "webhook.test", "quota.threshold"],
        description: "ops",
      });
      assert.equal(res.status, 201);
      const body = await res.json();
      id = body.id;
      secret = body.secret;
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(atob(secret.slice(6)).length, 32);
      assert.deepEqual(body.events, ["quota.threshold", "webhook.test"]);
      assert.equal(body.all_users, false);
      assert.equal(body.disabled, false);
      assert.equal(body.url, "https://hooks.example.com/gatehouse");
      assert.equal(body.description, "ops");
      assert.ok(body.created_at);
    });

    await t.step("get and list never show the secret", async () => {
      const got = await (await call("GET", `/v1/webhooks/${id}`)).json();
      assert.equal(got.id, id);
      assert.equal("secret" in got, false);
      const list = await (await call("GET", "/v1/webhooks")).json();
      assert.equal(list.total, 1);
      assert.equal(list.items[0].id, id);
      assert.ok(!JSON.stringify(list).includes(secret));
    });

    await t.step("the secret is not stored in plain text", async () => {
      const rows = await h.services.sql.unsafe(`select * from webhooks`);
      const dump = JSON.stringify(rows);
      assert.ok(!dump.includes(secret));
      assert.ok(!dump.includes(secret.slice(6)));
      assert.ok(!h.log.text().includes(secret.slice(6)), "nor logged");
    });

    await t.step("update: url, events, description; disable and re-enable", async () => {
      const res = await call("PATCH", `/v1/webhooks/${id}`, {
        url: "https://hooks.example.com/v2",
        events: ["security.login_locked"],
        description: null,
        disabled: true,
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.url, "https://hooks.example.com/v2");
      assert.deepEqual(body.events, ["security.login_locked"]);
      assert.equal(body.description, null);
      assert.equal(body.disabled, true);
      assert.ok(body.disabled_at);
      const test = await call("POST", `/v1/webhooks/${id}/test`);
      assert.equal(test.status, 409);
      const enabled = await (await call("PATCH", `/v1/webhooks/${id}`, { disabled: false })).json();
      assert.equal(enabled.disabled, false);
      assert.equal(enabled.disabled_at, null);
    });

    await t.step("testWebhook answers 202 with the event id; deliveries list it", async () => {
      const res = await call("POST", `/v1/webhooks/${id}/test`);
      assert.equal(res.status, 202);
      const { event_id } = await res.json();
      const list = await (await call("GET", `/v1/webhooks/${id}/deliveries`)).json();
      assert.equal(list.total, 1);
      assert.deepEqual(
        {
          event_id: list.items[0].event_id,
          type: list.items[0].type,
          status: list.items[0].status,
          attempt: list.items[0].attempt,
          response_status: list.items[0].response_status,
        },
        { event_id, type: "webhook.test", status: "pending", attempt: 0, response_status: null },
      );
      assert.ok(list.items[0].next_attempt_at);
    });

    await t.step("bad input is a 422 naming the field", async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ url: "https://hooks.example.com/x", events: [] }, "events"],
        [{ url: "https://hooks.example.com/x", events: ["nope.event"] }, "events"],
        [{ url: "https://hooks.example.com/x" }, "events"],
        [{ url: `https://hooks.example.com/${"a".repeat(2048)}`, events: ["webhook.test"] }, "url"],
        [{
          url: "https://hooks.example.com/x",
          events: ["webhook.test"],
          description: "d".repeat(501),
        }, "description"],
        [{ url: "https://hooks.example.com/\u0000", events: ["webhook.test"] }, "url"],
        [{ url: "not a url", events: ["webhook.test"] }, "url"],
      ];
      for (const [body, field] of cases) {
        const res = await call("POST", "/v1/webhooks", body);
        assert.equal(res.status, 422, JSON.stringify(body).slice(0, 80));
        const err = await res.json();
        assert.equal(err.error, "validation_error");
        assert.ok(
          err.detail.issues.some((i: { path: string[] }) => i.path[0] === field),
          JSON.stringify(err.detail),
        );
      }
      const patch = await call("PATCH", `/v1/webhooks/${id}`, { events: ["bogus"] });
      assert.equal(patch.status, 422);
    });

    await t.step("at most 20 endpoints per user: the 21st is a 409", async () => {
      for (let i = 1; i < 20; i++) {
        await createWebhook(h, user, {
          url: `https://hooks.example.com/${i}`,
          events: ["webhook.test"],
        });
      }
      const res = await call("POST", "/v1/webhooks", {
        url: "https://hooks.example.com/21",
        events: ["webhook.test"],
      });
      assert.equal(res.status, 409);
      assert.equal((await res.json()).error, "conflict");
    });

    await t.step("delete: 204, then 404", async () => {
      assert.equal((await call("DELETE", `/v1/webhooks/${id}`)).status, 204);
      assert.equal((await call("GET", `/v1/webhooks/${id}`)).status, 404);
      assert.equal((await call("DELETE", `/v1/webhooks/${id}`)).status, 404);
      assert.equal((await storedDeliveries(h, id)).length, 0);
    });
  } finally {
    await h.close();
  }
});

Deno.test("webhook authorization: webhooks:write scope, owner or admin, another user's is 404", async (t) => {
  const resolver = stubResolver({ "hooks.example.com": [PUBLIC_IP] });
  const h = await startTestApp(
    { JWT_SECRET: `authz-test-${crypto.randomUUID()}` },
    // No worker: these endpoints point at a stub public address that must not be dialled.
    { build: { webhookResolver: resolver, webhookWorker: false } },
  );
  try {
    const owner = await registerUser(h);
    const other = await registerUser(h);
    const admin = await registerUser(h, { role: "admin" });
    const hook = await createWebhook(h, owner, {
      url: "https://hooks.example.com/a",
      events: ["webhook.test"],
    });
    const paths: [string, string, unknown?][] = [
      ["GET", `/v1/webhooks/${hook.id}`],
      ["PATCH", `/v1/webhooks/${hook.id}`, { description: "x" }],
      ["POST", `/v1/webhooks/${hook.id}/test`],
      ["GET", `/v1/webhooks/${hook.id}/deliveries`],
      ["DELETE", `/v1/webhooks/${hook.id}`],
    ];

    await t.step("keys get webhooks:write only when asked for it", async () => {
      const plain = await createKey(h, owner, { name: "default scopes" });
      assert.ok(!(plain.body.scopes as string[]).includes("webhooks:write"));
      const res = await h.json("GET", "/v1/webhooks", undefined, { token: plain.key });
      assert.equal(res.status, 403);
      const create = await h.json("POST", "/v1/webhooks", {
        url: "https://hooks.example.com/k",
        events: ["webhook.test"],
      }, { token: plain.key });
      assert.equal(create.status, 403);
      const scoped = await createKey(h, owner, { name: "hooks", scopes: ["webhooks:write"] });
      const list = await h.json("GET", "/v1/webhooks", undefined, { token: scoped.key });
      assert.equal(list.status, 200);
      assert.equal((await list.json()).total, 1);
      const get = await h.json("GET", `/v1/webhooks/${hook.id}`, undefined, { token: scoped.key });
      assert.equal(get.status, 200);
    });

    await t.step("another user's endpoint is a 404 on every operation", async () => {
      for (const [method, path, body] of paths.slice(0, 4)) {
        const res = await h.json(method, path, body, { token: other.accessToken });
        assert.equal(res.status, 404, `${method} ${path}`);
      }
      const del = await h.json("DELETE", `/v1/webhooks/${hook.id}`, undefined, {
        token: other.accessToken,
      });
      assert.equal(del.status, 404);
      const list = await h.json("GET", `/v1/webhooks?user_id=${owner.id}`, undefined, {
        token: other.accessToken,
      });
      assert.equal(list.status, 404);
      const own = await (await h.json("GET", "/v1/webhooks", undefined, {
        token: other.accessToken,
      })).json();
      assert.equal(own.total, 0);
    });

    await t.step("all_users is admin only", async () => {
      const res = await h.json("POST", "/v1/webhooks", {
        url: "https://hooks.example.com/all",
        events: ["quota.threshold"],
        all_users: true,
      }, { token: owner.accessToken });
      assert.equal(res.status, 403);
      const ok = await createWebhook(h, admin, {
        url: "https://hooks.example.com/all",
        events: ["quota.threshold"],
        all_users: true,
      });
      assert.equal(ok.body.all_users, true);
    });

    await t.step("admins reach anyone's endpoints and list them with user_id", async () => {
      const list = await (await h.json("GET", `/v1/webhooks?user_id=${owner.id}`, undefined, {
        token: admin.accessToken,
      })).json();
      assert.equal(list.total, 1);
      assert.equal(list.items[0].id, hook.id);
      for (const [method, path, body] of paths) {
        const res = await h.json(method, path, body, { token: admin.accessToken });
        assert.ok([200, 202, 204].includes(res.status), `${method} ${path}: ${res.status}`);
      }
    });

    await t.step("without credentials: 401", async () => {
      assert.equal((await h.json("GET", "/v1/webhooks")).status, 401);
    });
  } finally {
    await h.close();
  }
});

Deno.test("SSRF: refused destinations with WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE off", async (t) => {
  const resolver = stubResolver({
    "hooks.example.com": [PUBLIC_IP],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": [PUBLIC_IP, "127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "v6.example.com": ["fd00::1"],
    "mapped.example.com": ["::ffff:192.168.1.1"],
  });
  const h = await startTestApp(
    { JWT_SECRET: `ssrf-test-${crypto.randomUUID()}` },
    // No worker: these endpoints point at a stub public address that must not be dialled.
    { build: { webhookResolver: resolver, webhookWorker: false } },
  );
  try {
    const user = await registerUser(h);
    const refused: [string, RegExp][] = [
      ["http://hooks.example.com/x", /https/],
      ["https://user:pass@hooks.example.com/x", /credentials/],
      ["https://127.0.0.1/x", /non-public/],
      ["https://[::1]/x", /non-public/],
      ["https://2130706433/x", /non-public/],
      ["https://internal.example.com/x", /non-public/],
      ["https://mixed.example.com/x", /non-public/],
      ["https://metadata.example.com/latest", /non-public/],
      ["https://v6.example.com/x", /non-public/],
      ["https://mapped.example.com/x", /non-public/],
      ["https://unknown.example.com/x", /does not resolve/],
      ["ftp://hooks.example.com/x", /https/],
    ];
    await t.step("at creation: 422 on url", async () => {
      for (const [url, reason] of refused) {
        const res = await h.json("POST", "/v1/webhooks", { url, events: ["webhook.test"] }, {
          token: user.accessToken,
        });
        assert.equal(res.status, 422, url);
        const err = await res.json();
        assert.deepEqual(err.detail.issues[0].path, ["url"]);
        assert.match(err.detail.issues[0].message, reason, url);
      }
    });

    await t.step("on update too", async () => {
      const hook = await createWebhook(h, user, {
        url: "https://hooks.example.com/ok",
        events: ["webhook.test"],
      });
      const res = await h.json("PATCH", `/v1/webhooks/${hook.id}`, {
        url: "https://internal.example.com/x",
      }, { token: user.accessToken });
      assert.equal(res.status, 422);
    });
  } finally {
    await h.close();
  }
});

Deno.test("SSRF at delivery: a name that now resolves to loopback is refused (DNS rebinding); allowed names connect to the checked address", async (t) => {
  const receiver = new Receiver();
  const table: Record<string, string[]> = { "rebind.example.com": [PUBLIC_IP] };
  const resolver = stubResolver(table);
  const env = webhookEnv({ WEBHOOK_ALLOW_PRIVATE: "false", WEBHOOK_RETRY_SCHEDULE: "none" });
  const h = await startTestApp(env, { build: { webhookResolver: resolver } });
  try {
    const user = await registerUser(h);
    await t.step("rebinding to 127.0.0.1 after creation: nothing is sent", async () => {
      const hook = await createWebhook(h, user, {
        url: `http://rebind.example.com:${receiver.port}/hook`,
        events: ["webhook.test"],
      });
      table["rebind.example.com"] = ["127.0.0.1"];
      const { event_id } = await (await h.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
        token: user.accessToken,
      })).json();
      const row = await waitFor("the refused attempt", async () => {
        const r = (await storedDeliveries(h, hook.id)).find((d) => d.event_id === event_id);
        return r?.status === "failed" ? r : undefined;
      });
      assert.equal(row.response_status, null);
      assert.match(row.last_error!, /refused: .*non-public/);
      assert.equal(receiver.received.length, 0);
    });
  } finally {
    await h.close();
  }

  const privateResolver = stubResolver({ "receiver.internal.test": ["127.0.0.1"] });
  const allowed = await startTestApp(webhookEnv(), { build: { webhookResolver: privateResolver } });
  try {
    await t.step(
      "with WEBHOOK_ALLOW_PRIVATE the resolved address is the one connected to",
      async () => {
        const user = await registerUser(allowed);
        const hook = await createWebhook(allowed, user, {
          url: `http://receiver.internal.test:${receiver.port}/hook`,
          events: ["webhook.test"],
        });
        const before = privateResolver.calls.length;
        await allowed.json("POST", `/v1/webhooks/${hook.id}/test`, undefined, {
          token: user.accessToken,
        });
        const got = await waitFor("the delivery", () => receiver.received[0]);
        // The name exists only in the stub: the request reached the address it resolved to,
        // with the URL's host in the Host header, and the name was resolved again for it.
        assert.equal(got.host, `receiver.internal.test:${receiver.port}`);
        assert.ok(privateResolver.calls.length > before);
      },
    );
  } finally {
    await allowed.close();
    await receiver.close();
  }
});
