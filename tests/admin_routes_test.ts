import assert from "node:assert/strict";
import { call, createChatbot, startRoomyTestApp } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("admin: database status and audit log", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const ada = await registerUser(h);
    await createChatbot(h, ada, { name: "One" });

    await t.step("getDbStatus counts rows per table and lists migrations", async () => {
      const res = await call(h, "GET", "/v1/admin/db-status", admin);
      assert.equal(res.status, 200);
      assert.match(res.body.database.version, /PostgreSQL/);
      const rows = Object.fromEntries(
        res.body.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]),
      );
      assert.equal(rows.users, 2);
      assert.equal(rows.chatbots, 1);
      for (const table of ["sessions", "consents", "conversations", "messages", "user_details"]) {
        assert.equal(typeof rows[table], "number", table);
      }
      const versions = res.body.migrations.map((m: { version: string }) => m.version);
      assert.deepEqual(versions.slice(0, 4), [
        "0001_init",
        "0002_auth",
        "0003_chatbots",
        "0004_users_context",
      ]);
      assert.ok(Date.parse(res.body.migrations[0].applied_at));
    });

    await t.step("listAuditEvents pages newest first and filters by user and action", async () => {
      const all = await call(h, "GET", "/v1/admin/audit-log?limit=1", admin);
      assert.equal(all.status, 200);
      assert.equal(all.body.items.length, 1);
      assert.ok(all.body.total >= 3);
      const mine = await call(
        h,
        "GET",
        `/v1/admin/audit-log?user_id=${ada.id}&action=auth.register`,
        admin,
      );
      assert.equal(mine.body.total, 1);
      const [event] = mine.body.items;
      assert.equal(event.action, "auth.register");
      assert.equal(event.user_id, ada.id);
      assert.equal(event.actor_id, ada.id);
      assert.ok(Date.parse(event.occurred_at));
      const none = await call(h, "GET", "/v1/admin/audit-log?action=no.such_action", admin);
      assert.equal(none.body.total, 0);
    });

    await t.step("malformed filters are 422", async () => {
      for (const query of ["user_id=abc", "action=DROP%20TABLE", "limit=500"]) {
        const res = await call(h, "GET", `/v1/admin/audit-log?${query}`, admin);
        assert.equal(res.status, 422, query);
      }
    });

    await t.step("API keys need the admin scope as well as an admin owner", async () => {
      const withScope = await createKey(h, admin, { name: "a", scopes: ["admin"] });
      assert.equal((await call(h, "GET", "/v1/admin/db-status", withScope.key)).status, 200);
      assert.equal((await call(h, "GET", "/v1/admin/audit-log", withScope.key)).status, 200);
      const without = await createKey(h, admin, { name: "b", scopes: ["profile:read"] });
      assert.equal((await call(h, "GET", "/v1/admin/db-status", without.key)).status, 403);
      assert.equal((await call(h, "GET", "/v1/admin/audit-log", without.key)).status, 403);
    });

    await t.step("no credentials is 401", async () => {
      assert.equal((await h.request("/v1/admin/db-status")).status, 401);
      assert.equal((await h.request("/v1/admin/audit-log")).status, 401);
    });
  } finally {
    await h.close();
  }
});
