import assert from "node:assert/strict";
import { call, startRoomyTestApp } from "./support/user_context_fixtures.ts";
import type { TestApp } from "./support/harness.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

function login(h: TestApp, user: TestUser): Promise<Response> {
  return h.json("POST", "/v1/auth/login", { email: user.email, password: user.password });
}

Deno.test("users: moderators list and search", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const mod = await registerUser(h, { role: "moderator" });
    const tag = crypto.randomUUID().slice(0, 8);
    const grace = await registerUser(h, { displayName: `Grace ${tag}` });
    await call(h, "PATCH", `/v1/users/${grace.id}`, grace, { last_name: `Hopper${tag}` });
    const percent = await registerUser(h, { displayName: `100%_${tag}` });

    await t.step("listUsers pages through everyone, newest first", async () => {
      const res = await call(h, "GET", "/v1/users?limit=2", mod);
      assert.equal(res.status, 200);
      assert.equal(res.body.limit, 2);
      assert.equal(res.body.offset, 0);
      assert.equal(res.body.items.length, 2);
      assert.equal(res.body.total, 3);
      assert.equal(res.body.items[0].id, percent.id);
      const next = await call(h, "GET", "/v1/users?limit=2&offset=2", mod);
      assert.equal(next.body.items.length, 1);
      assert.doesNotMatch(JSON.stringify(res.body), /password|hash/i);
    });

    await t.step("q matches email, display name and last name, case-insensitively", async () => {
      const byEmail = await call(h, "GET", `/v1/users?q=${grace.email.toUpperCase()}`, mod);
      assert.deepEqual(byEmail.body.items.map((u: { id: string }) => u.id), [grace.id]);
      const byName = await call(h, "GET", `/v1/users?q=hopper${tag}`, mod);
      assert.deepEqual(byName.body.items.map((u: { id: string }) => u.id), [grace.id]);
      assert.equal(byName.body.total, 1);
    });

    await t.step("wildcards in q match literally", async () => {
      const res = await call(h, "GET", `/v1/users?q=${encodeURIComponent("%_")}`, mod);
      assert.deepEqual(res.body.items.map((u: { id: string }) => u.id), [percent.id]);
    });

    await t.step("out-of-range paging and an oversized q are 422", async () => {
      for (const query of ["limit=0", "limit=101", "offset=-1", `q=${"a".repeat(255)}`]) {
        assert.equal((await call(h, "GET", `/v1/users?${query}`, mod)).status, 422, query);
      }
    });

    await t.step("a moderator reads anyone but changes no one else", async () => {
      assert.equal((await call(h, "GET", `/v1/users/${grace.id}`, mod)).status, 200);
      const res = await call(h, "PATCH", `/v1/users/${grace.id}`, mod, { company: "Mod Inc" });
      assert.equal(res.status, 403);
    });
  } finally {
    await h.close();
  }
});

Deno.test("users: admins change role, tier and disabled", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const alan = await registerUser(h);
    const path = `/v1/users/${alan.id}`;
    const auditOf = async (action: string) =>
      await h.services.sql<{ actor_id: string; detail: Record<string, unknown> }[]>`
        select actor_id, detail from audit_events where user_id = ${alan.id} and action = ${action}`;

    await t.step("admins edit another user's names", async () => {
      const res = await call(h, "PATCH", path, admin, { company: "Bletchley" });
      assert.equal(res.status, 200);
      assert.equal(res.body.company, "Bletchley");
    });

    await t.step("a role change revokes every session and is audited", async () => {
      const res = await call(h, "PATCH", path, admin, { role: "moderator" });
      assert.equal(res.status, 200);
      assert.equal(res.body.role, "moderator");
      assert.equal((await call(h, "GET", "/v1/auth/me", alan)).status, 401);
      const refresh = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: alan.refreshToken,
      });
      assert.equal(refresh.status, 401);
      const [event] = await auditOf("user.role_change");
      assert.equal(event!.actor_id, admin.id);
      assert.deepEqual(event!.detail, { from: "user", to: "moderator" });
    });

    await t.step("after logging in again the new role applies", async () => {
      const again = await login(h, alan);
      assert.equal(again.status, 200);
      alan.accessToken = (await again.json()).access_token;
      const list = await call(h, "GET", "/v1/users", alan);
      assert.equal(list.status, 200);
    });

    await t.step("a tier change is applied and audited without ending sessions", async () => {
      const res = await call(h, "PATCH", path, admin, { tier: "pro" });
      assert.equal(res.status, 200);
      assert.equal(res.body.tier, "pro");
      assert.equal((await call(h, "GET", "/v1/auth/me", alan)).status, 200);
      assert.deepEqual((await auditOf("user.tier_change"))[0]!.detail, { from: "free", to: "pro" });
    });

    await t.step("disabling revokes sessions, refuses login and the user's keys", async () => {
      const key = await createKey(h, alan, { name: "k", scopes: ["profile:read"] });
      const res = await call(h, "PATCH", path, admin, { disabled: true });
      assert.equal(res.status, 200);
      assert.equal(res.body.disabled, true);
      assert.ok([401, 403].includes((await call(h, "GET", "/v1/auth/me", alan)).status));
      assert.equal((await call(h, "GET", "/v1/auth/me", key.key)).status, 403);
      const again = await login(h, alan);
      assert.equal(again.status, 403);
      assert.equal((await auditOf("user.disable")).length, 1);
    });

    await t.step("enabling lets the user log in again", async () => {
      const res = await call(h, "PATCH", path, admin, { disabled: false });
      assert.equal(res.body.disabled, false);
      assert.equal((await auditOf("user.enable")).length, 1);
      const again = await login(h, alan);
      assert.equal(again.status, 200);
      await again.body?.cancel();
    });

    await t.step("an admin's key without the admin scope acts as a plain user", async () => {
      const key = await createKey(h, admin, { name: "no-admin", scopes: ["profile:write"] });
      assert.equal((await call(h, "PATCH", path, key.key, { tier: "free" })).status, 403);
      assert.equal((await call(h, "PATCH", path, key.key, { company: "X" })).status, 403);
      const adminKey = await createKey(h, admin, {
        name: "admin",
        scopes: ["admin", "profile:write"],
      });
      const ok = await call(h, "PATCH", path, adminKey.key, { tier: "enterprise" });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.tier, "enterprise");
    });

    await t.step("an unknown user id is 404 for admins", async () => {
      const res = await call(h, "PATCH", `/v1/users/${crypto.randomUUID()}`, admin, {
        tier: "pro",
      });
      assert.equal(res.status, 404);
    });
  } finally {
    await h.close();
  }
});
