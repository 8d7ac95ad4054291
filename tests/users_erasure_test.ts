import assert from "node:assert/strict";
import type { TestApp } from "./support/harness.ts";
import {
  call,
  context,
  createChatbot,
  putDetails,
  seedConversation,
  startRoomyTestApp,
} from "./support/user_context_fixtures.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

/** Every row of every table of this app's schema whose text mentions one of `needles`. */
async function rowsMentioning(h: TestApp, needles: string[]): Promise<Record<string, number>> {
  const sql = h.services.sql;
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`;
  const found: Record<string, number> = {};
  for (const { name } of tables) {
    for (const needle of needles) {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from ${sql(name)} t
        where strpos(lower(t::text), ${needle.toLowerCase()}) > 0`;
      if (row!.n > 0) found[`${name}: ${needle}`] = row!.n;
    }
  }
  return found;
}

/** Gives `user` one of everything a user can own, through the API where it exists. */
async function populate(h: TestApp, user: TestUser, other: TestUser) {
  await h.json("POST", "/v1/auth/login", { email: user.email, password: user.password });
  await call(h, "PATCH", `/v1/users/${user.id}`, user, { company: "Erased Ltd" });
  await putDetails(h, user, {
    profile: { city: "Oslo", contact: user.email },
    preferences: { language: "no" },
    profile_data: `Reach me at ${user.email}`,
  });
  const bot = await createChatbot(h, user, {
    name: "Mine",
    context_fields: ["city"],
    require_consent: true,
  });
  const key = await createKey(h, user, { name: "bound", chatbot_id: bot.id });
  await createKey(h, user, { name: "plain" });
  const conversation = await seedConversation(h, user.id, [
    { role: "user", content: "hello" },
    { role: "assistant", content: "hi" },
  ], bot.id);
  const asked = await context(h, user, user.id, {
    chatbot_id: bot.id,
    conversation_id: conversation,
  });
  const answer = await call(h, "POST", "/v1/chat/consent", user, {
    consent_request_id: asked.body.requires_consent.consent_request_id,
    approved: true,
  });
  assert.equal(answer.status, 200);
  const query = await call(h, "POST", "/v1/query", user, { prompt: "hello", mode: "speed" });
  assert.equal(query.status, 200, JSON.stringify(query.body));
  const ticket = await call(h, "POST", "/v1/chat/ws-ticket", user);
  assert.equal(ticket.status, 201, JSON.stringify(ticket.body));
  // A webhook endpoint (public IP literal, nothing is sent to it) and an event about the user.
  const hook = await call(h, "POST", "/v1/webhooks", user, {
    url: "https://93.184.215.14/hook",
    events: ["webhook.test"],
    description: `hooks of ${user.email}`,
  });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  await h.services.webhooks.emit(h.services.sql, {
    type: "security.login_locked",
    userId: user.id,
    data: { user_id: user.id },
  });
  // Another user's conversation that points at this user's chatbot.
  const foreign = await seedConversation(h, other.id, [{ role: "user", content: "hey" }], bot.id);
  return { bot, key, foreign };
}

Deno.test("users: deleteUser erases everything the user owns", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const eve = await registerUser(h);
    const bystander = await registerUser(h);
    const { key, foreign } = await populate(h, eve, bystander);
    const auditBefore = await h.services.sql<{ n: number }[]>`
      select count(*)::int as n from audit_events where user_id = ${eve.id}`;
    assert.ok(auditBefore[0]!.n >= 3);
    assert.ok(Object.keys(await rowsMentioning(h, [eve.id])).length >= 8);

    await t.step("self-deletion answers 204", async () => {
      const res = await call(h, "DELETE", `/v1/users/${eve.id}`, eve);
      assert.equal(res.status, 204);
    });

    await t.step("no row of any table names the user's id or email any more", async () => {
      assert.deepEqual(await rowsMentioning(h, [eve.id, eve.email]), {});
    });

    await t.step("audit rows are kept, anonymised", async () => {
      const rows = await h.services.sql<{ action: string; ip: string | null; detail: unknown }[]>`
        select action, ip, detail from audit_events where detail ? 'erased'`;
      assert.ok(rows.length >= auditBefore[0]!.n);
      assert.ok(rows.every((r) => r.ip === null));
      const [deletion] = await h.services.sql<{ user_id: string | null; actor_id: null }[]>`
        select user_id, actor_id from audit_events where action = 'user.delete'`;
      assert.deepEqual({ ...deletion }, { user_id: null, actor_id: null });
    });

    await t.step("the user's credentials stop working", async () => {
      assert.equal((await call(h, "GET", "/v1/auth/me", eve)).status, 401);
      assert.equal((await call(h, "GET", "/v1/auth/me", key.key)).status, 401);
      const login = await h.json("POST", "/v1/auth/login", {
        email: eve.email,
        password: eve.password,
      });
      assert.equal(login.status, 401);
      await login.body?.cancel();
    });

    await t.step("other users keep their data; links to erased chatbots are cleared", async () => {
      const [row] = await h.services.sql<{ chatbot_id: string | null }[]>`
        select chatbot_id from conversations where id = ${foreign}`;
      assert.equal(row!.chatbot_id, null);
      assert.equal((await call(h, "GET", "/v1/auth/me", bystander)).status, 200);
      const [usage] = await h.services.sql<{ n: number }[]>`
        select count(*)::int as n from usage_records where user_id is null`;
      assert.ok(usage!.n >= 1, "usage accounting stays, anonymised");
    });

    await t.step("deleting again is 404", async () => {
      const admin = await registerUser(h, { role: "admin" });
      assert.equal((await call(h, "DELETE", `/v1/users/${eve.id}`, admin)).status, 404);
    });
  } finally {
    await h.close();
  }
});

Deno.test("users: who may delete whom", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const mod = await registerUser(h, { role: "moderator" });
    const plain = await registerUser(h);
    const target = await registerUser(h);

    await t.step("a user cannot see, so cannot delete, someone else: 404", async () => {
      assert.equal((await call(h, "DELETE", `/v1/users/${target.id}`, plain)).status, 404);
    });

    await t.step("a moderator sees the user but may not delete: 403", async () => {
      assert.equal((await call(h, "DELETE", `/v1/users/${target.id}`, mod)).status, 403);
    });

    await t.step("an admin erases another user; the event names the admin", async () => {
      const bot = await createChatbot(h, target, { name: "T" });
      assert.equal((await call(h, "DELETE", `/v1/users/${target.id}`, admin)).status, 204);
      assert.deepEqual(await rowsMentioning(h, [target.id, target.email, bot.id]), {});
      const [event] = await h.services.sql<{ actor_id: string; detail: unknown }[]>`
        select actor_id, detail from audit_events where action = 'user.delete'`;
      assert.equal(event!.actor_id, admin.id);
      assert.deepEqual(event!.detail, { by: "admin" });
    });

    await t.step("an API key needs profile:write to delete its owner", async () => {
      const key = await createKey(h, plain, { name: "ro", scopes: ["profile:read"] });
      assert.equal((await call(h, "DELETE", `/v1/users/${plain.id}`, key.key)).status, 403);
      assert.equal((await call(h, "GET", `/v1/users/${plain.id}`, plain)).status, 200);
    });
  } finally {
    await h.close();
  }
});
