import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("API keys", async (t) => {
  const h = await startTestApp();
  try {
    const owner = await registerUser(h);
    const created = await createKey(h, owner, { name: "ci" });

    await t.step("create shows the key once, in the documented format", () => {
      assert.match(created.key, /^gate_[0-9A-Za-z]{40}$/);
      assert.equal(created.body.start, created.key.slice(0, 8));
      assert.deepEqual(
        (created.body.scopes as string[]).sort(),
        [
          "chat",
          "chatbots:read",
          "chatbots:write",
          "profile:read",
          "profile:write",
          "query",
          "usage:read",
        ],
        "default scopes: the role's minus admin, keys:write and webhooks:write",
      );
    });

    await t.step("stored only as a SHA-256 hash", async () => {
      const [row] = await h.services.sql<{ key_hash: string; start: string }[]>`
        select key_hash, start from api_keys where id = ${created.id}`;
      assert.match(row!.key_hash, /^[0-9a-f]{64}$/);
      assert.notEqual(row!.key_hash, created.key);
      assert.equal(row!.start, created.key.slice(0, 8));
    });

    await t.step("accepted as Bearer and as X-API-Key", async () => {
      const bearer = await h.json("GET", "/v1/auth/whoami", undefined, { token: created.key });
      assert.equal(bearer.status, 200);
      const { principal } = await bearer.json();
      assert.equal(principal.type, "api_key");
      assert.equal(principal.api_key_id, created.id);
      assert.equal(principal.user_id, owner.id);
      const header = await h.request("/v1/auth/whoami", { headers: { "x-api-key": created.key } });
      assert.equal(header.status, 200);
      await header.body?.cancel();
    });

    await t.step("never accepted from the URL", async () => {
      for (const name of ["api_key", "key", "token", "access_token"]) {
        const res = await h.request(`/v1/auth/whoami?${name}=${created.key}`);
        assert.equal(res.status, 401);
        await res.body?.cancel();
      }
    });

    await t.step("a key with a broken checksum is 401", async () => {
      const last = created.key.at(-1) === "a" ? "b" : "a";
      const res = await h.json("GET", "/v1/auth/whoami", undefined, {
        token: created.key.slice(0, -1) + last,
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });

    await t.step("list and get never expose the secret or its hash", async () => {
      const list = await h.json("GET", "/v1/api-keys", undefined, { token: owner.accessToken });
      assert.equal(list.status, 200);
      const text = await list.text();
      assert.ok(!text.includes(created.key));
      assert.doesNotMatch(text, /key_hash|"key":/);
      const page = JSON.parse(text);
      assert.equal(page.total, 1);
      const one = await h.json("GET", `/v1/api-keys/${created.id}`, undefined, {
        token: owner.accessToken,
      });
      assert.equal(one.status, 200);
      assert.ok(!(await one.text()).includes(created.key));
    });

    await t.step("keys cannot mint keys without keys:write", async () => {
      const res = await h.json("POST", "/v1/api-keys", { name: "x" }, { token: created.key });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    });

    await t.step("a user cannot grant admin or set tier/overrides", async () => {
      const admin = await h.json("POST", "/v1/api-keys", { name: "x", scopes: ["admin"] }, {
        token: owner.accessToken,
      });
      assert.equal(admin.status, 403);
      await admin.body?.cancel();
      const tier = await h.json("POST", "/v1/api-keys", { name: "x", tier: "enterprise" }, {
        token: owner.accessToken,
      });
      assert.equal(tier.status, 403);
      await tier.body?.cancel();
      const unknown = await h.json("POST", "/v1/api-keys", { name: "x", owner_id: owner.id }, {
        token: owner.accessToken,
      });
      assert.equal(unknown.status, 422, "unknown fields on a privilege-bearing write are refused");
      await unknown.body?.cancel();
    });

    await t.step("scopes are enforced", async () => {
      const narrow = await createKey(h, owner, { name: "narrow", scopes: ["query"] });
      const res = await h.json("GET", "/v1/auth/whoami", undefined, { token: narrow.key });
      assert.deepEqual((await res.json()).principal.scopes, ["query"]);
    });

    await t.step("another user's key is 404 on every operation", async () => {
      const stranger = await registerUser(h);
      for (
        const [method, path] of [
          ["GET", `/v1/api-keys/${created.id}`],
          ["DELETE", `/v1/api-keys/${created.id}`],
          ["POST", `/v1/api-keys/${created.id}/roll`],
        ] as const
      ) {
        const res = await h.json(method, path, undefined, { token: stranger.accessToken });
        assert.equal(res.status, 404, `${method} ${path}`);
        await res.body?.cancel();
      }
      const list = await h.json("GET", `/v1/api-keys?user_id=${owner.id}`, undefined, {
        token: stranger.accessToken,
      });
      assert.equal(list.status, 403);
      await list.body?.cancel();
    });

    await t.step("expired keys are refused", async () => {
      const soon = new Date(Date.now() + 1500).toISOString();
      const k = await createKey(h, owner, { name: "short", expires_at: soon });
      const ok = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      await new Promise((r) => setTimeout(r, 1600));
      const expired = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.equal(expired.status, 401);
      await expired.body?.cancel();
      const past = await h.json("POST", "/v1/api-keys", {
        name: "p",
        expires_at: "2020-01-01T00:00:00Z",
      }, {
        token: owner.accessToken,
      });
      assert.equal(past.status, 422);
      await past.body?.cancel();
    });

    await t.step("roll without grace: the old secret stops at once", async () => {
      const k = await createKey(h, owner, { name: "roll" });
      const res = await h.json("POST", `/v1/api-keys/${k.id}/roll`, undefined, {
        token: owner.accessToken,
      });
      assert.equal(res.status, 200);
      const rolled = await res.json();
      assert.equal(rolled.id, k.id);
      assert.notEqual(rolled.key, k.key);
      h.services.authenticator.forgetAll();
      const old = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.equal(old.status, 401);
      await old.body?.cancel();
      const fresh = await h.json("GET", "/v1/auth/whoami", undefined, { token: rolled.key });
      assert.equal(fresh.status, 200);
      await fresh.body?.cancel();
    });

    await t.step("roll with grace: both secrets work for the grace period", async () => {
      const k = await createKey(h, owner, { name: "grace" });
      const res = await h.json("POST", `/v1/api-keys/${k.id}/roll`, { grace_seconds: 60 }, {
        token: owner.accessToken,
      });
      const rolled = await res.json();
      h.services.authenticator.forgetAll();
      for (const key of [k.key, rolled.key]) {
        const r = await h.json("GET", "/v1/auth/whoami", undefined, { token: key });
        assert.equal(r.status, 200);
        await r.body?.cancel();
      }
      const tooLong = await h.json("POST", `/v1/api-keys/${k.id}/roll`, { grace_seconds: 90000 }, {
        token: owner.accessToken,
      });
      assert.equal(tooLong.status, 422);
      await tooLong.body?.cancel();
    });

    await t.step("revocation takes effect within 5 s (cache bound) and is audited", async () => {
      const k = await createKey(h, owner, { name: "revoke-me" });
      const warm = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.equal(warm.status, 200);
      await warm.body?.cancel();
      const del = await h.json("DELETE", `/v1/api-keys/${k.id}`, undefined, {
        token: owner.accessToken,
      });
      assert.equal(del.status, 204);
      // Another instance would still hold the cached key; wait out the bound.
      await new Promise((r) => setTimeout(r, 2100));
      const after = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.equal(after.status, 401);
      await after.body?.cancel();
      const events = await h.services.sql`
        select action from audit_events where detail->>'api_key_id' = ${k.id} order by occurred_at`;
      assert.deepEqual(events.map((e) => e.action), ["api_key.create", "api_key.revoke"]);
    });

    await t.step("a key loses scopes its owner's role no longer has", async () => {
      const admin = await registerUser(h, { role: "admin" });
      const k = await createKey(h, admin, { name: "adm", scopes: ["admin", "query"] });
      await h.services.sql`update users set role = 'user' where id = ${admin.id}`;
      h.services.authenticator.forgetAll();
      const res = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      assert.deepEqual((await res.json()).principal.scopes, ["query"]);
    });

    await t.step("last_used_at is recorded without a write per request", async () => {
      const k = await createKey(h, owner, { name: "touch" });
      const use = await h.json("GET", "/v1/auth/whoami", undefined, { token: k.key });
      await use.body?.cancel();
      const [before] = await h.services.sql`select last_used_at from api_keys where id = ${k.id}`;
      assert.equal(before!.last_used_at, null, "not written synchronously");
      await h.services.authenticator.close();
      const [after] = await h.services.sql`select last_used_at from api_keys where id = ${k.id}`;
      assert.ok(after!.last_used_at instanceof Date, "flushed in a batch");
    });
  } finally {
    await h.close();
  }
});
