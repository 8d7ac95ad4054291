import assert from "node:assert/strict";
import type { TestApp } from "./support/harness.ts";
import {
  call,
  context,
  createChatbot,
  type Credential,
  putDetails,
  seedConversation,
  startRoomyTestApp,
} from "./support/user_context_fixtures.ts";
import { registerUser, type TestUser } from "./support/users.ts";

/** Gives `user` one of each object the matrix probes. */
async function ownEverything(h: TestApp, user: TestUser) {
  await putDetails(h, user, { profile: { secret: `of ${user.id}` }, preferences: {} });
  const bot = await createChatbot(h, user, {
    name: "Private",
    context_fields: ["secret"],
    require_consent: true,
  });
  const conversation = await seedConversation(h, user.id, [{ role: "user", content: "private" }]);
  const asked = await context(h, user, user.id, { chatbot_id: bot.id });
  const pendingRequest = asked.body.requires_consent.consent_request_id as string;
  await call(h, "POST", "/v1/chat/consent", user, {
    consent_request_id: pendingRequest,
    approved: true,
  });
  const consent = (await call(h, "GET", "/v1/consents", user)).body.items[0].id as string;
  // A public IP literal: no DNS needed, and no event is ever sent to it here.
  const webhook = (await call(h, "POST", "/v1/webhooks", user, {
    url: "https://93.184.215.14/hook",
    events: ["webhook.test"],
  })).body.id as string;
  // A fresh pending request (the first one was answered) for the respond probe.
  await call(h, "PATCH", `/v1/chatbots/${bot.id}`, user, { context_fields: ["secret", "x"] });
  const request = (await context(h, user, user.id, { chatbot_id: bot.id })).body.requires_consent
    .consent_request_id as string;
  return { bot: bot.id, conversation, consent, request, webhook };
}

/** Row snapshot of what the victim owns, to prove the probes changed nothing. */
async function snapshot(h: TestApp, userId: string) {
  const sql = h.services.sql;
  return {
    user: await sql`select display_name, role, tier, disabled from users where id = ${userId}`,
    details: await sql`select profile, preferences from user_details where user_id = ${userId}`,
    chatbots: await sql`select id, name, context_fields from chatbots where user_id = ${userId}`,
    consents: await sql`select id, revoked_at from consents where user_id = ${userId}`,
    requests: await sql`select id, status from consent_requests where user_id = ${userId}`,
    webhooks: await sql`select id, url, disabled from webhooks where user_id = ${userId}`,
    webhookEvents: await sql`select id from webhook_events where user_id = ${userId}`,
  };
}

Deno.test("authz: BOLA, another user's objects are 404 like missing ones", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const alice = await registerUser(h);
    const bob = await registerUser(h);
    const bobs = await ownEverything(h, bob);
    const before = await snapshot(h, bob.id);
    const missing = crypto.randomUUID();

    const probes: [string, string, (id: string) => string, unknown?][] = [
      ["getUser", "GET", (id) => `/v1/users/${id}`],
      ["updateUser", "PATCH", (id) => `/v1/users/${id}`, { display_name: "pwned" }],
      ["deleteUser", "DELETE", (id) => `/v1/users/${id}`],
      ["putUserDetails", "PUT", (id) => `/v1/users/${id}/details`, {
        profile: {},
        preferences: {},
      }],
      ["getUserContext", "GET", (id) => `/v1/users/${id}/context`],
    ];
    for (const [name, method, path, body] of probes) {
      await t.step(`${name} on another user`, async () => {
        const theirs = await call(h, method, path(bob.id), alice, body);
        const absent = await call(h, method, path(missing), alice, body);
        assert.equal(theirs.status, 404);
        assert.equal(absent.status, 404);
        assert.equal(theirs.body.error, absent.body.error);
        assert.equal(theirs.body.message, absent.body.message);
      });
    }

    const objectProbes: [string, string, string, string, unknown?][] = [
      ["getChatbot", "GET", `/v1/chatbots/${bobs.bot}`, `/v1/chatbots/${missing}`],
      [
        "updateChatbot",
        "PATCH",
        `/v1/chatbots/${bobs.bot}`,
        `/v1/chatbots/${missing}`,
        { name: "pwned" },
      ],
      ["deleteChatbot", "DELETE", `/v1/chatbots/${bobs.bot}`, `/v1/chatbots/${missing}`],
      ["getWebhook", "GET", `/v1/webhooks/${bobs.webhook}`, `/v1/webhooks/${missing}`],
      [
        "updateWebhook",
        "PATCH",
        `/v1/webhooks/${bobs.webhook}`,
        `/v1/webhooks/${missing}`,
        { disabled: true },
      ],
      ["deleteWebhook", "DELETE", `/v1/webhooks/${bobs.webhook}`, `/v1/webhooks/${missing}`],
      ["testWebhook", "POST", `/v1/webhooks/${bobs.webhook}/test`, `/v1/webhooks/${missing}/test`],
      [
        "listWebhookDeliveries",
        "GET",
        `/v1/webhooks/${bobs.webhook}/deliveries`,
        `/v1/webhooks/${missing}/deliveries`,
      ],
      ["revokeConsent", "DELETE", `/v1/consents/${bobs.consent}`, `/v1/consents/${missing}`],
      [
        "getUserContext with their chatbot",
        "GET",
        `/v1/users/${alice.id}/context?chatbot_id=${bobs.bot}`,
        `/v1/users/${alice.id}/context?chatbot_id=${missing}`,
      ],
      [
        "getUserContext with their conversation",
        "GET",
        `/v1/users/${alice.id}/context?conversation_id=${bobs.conversation}`,
        `/v1/users/${alice.id}/context?conversation_id=${missing}`,
      ],
    ];
    for (const [name, method, theirsPath, missingPath, body] of objectProbes) {
      await t.step(name, async () => {
        const theirs = await call(h, method, theirsPath, alice, body);
        const absent = await call(h, method, missingPath, alice, body);
        assert.equal(theirs.status, 404);
        assert.deepEqual(
          { error: theirs.body.error, message: theirs.body.message },
          { error: absent.body.error, message: absent.body.message },
        );
      });
    }

    await t.step("respondToConsent on another user's request", async () => {
      for (const approved of [true, false]) {
        const res = await call(h, "POST", "/v1/chat/consent", alice, {
          consent_request_id: bobs.request,
          approved,
        });
        assert.equal(res.status, 404);
      }
    });

    await t.step("lists never show another user's objects", async () => {
      const bots = await call(h, "GET", "/v1/chatbots", alice);
      assert.equal(bots.body.total, 0);
      const consents = await call(h, "GET", "/v1/consents", alice);
      assert.equal(consents.body.total, 0);
      const webhooks = await call(h, "GET", "/v1/webhooks", alice);
      assert.equal(webhooks.body.total, 0);
    });

    await t.step("nothing of the victim changed", async () => {
      assert.deepEqual(await snapshot(h, bob.id), before);
    });
  } finally {
    await h.close();
  }
});

type Role = "user" | "moderator" | "admin";

Deno.test("authz: BFLA, role-gated routes are 403 for lower roles", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const callers: Record<Role, TestUser> = {
      user: await registerUser(h),
      moderator: await registerUser(h, { role: "moderator" }),
      admin: await registerUser(h, { role: "admin" }),
    };
    const target = await registerUser(h);
    const targetRow = async () =>
      (await h.services.sql<{ role: string; tier: string; disabled: boolean }[]>`
        select role, tier, disabled from users where id = ${target.id}`)[0];

    /**
     * The expected status per caller role. Another user's record is invisible
     * to a plain user, so it is 404 there (as for any object that is not
     * theirs); a moderator sees it and gets 403 where only admins act.
     */
    const matrix: {
      name: string;
      method: string;
      path: (caller: TestUser) => string;
      body?: unknown;
      expect: Record<Role, number>;
    }[] = [
      {
        name: "listUsers",
        method: "GET",
        path: () => "/v1/users",
        expect: { user: 403, moderator: 200, admin: 200 },
      },
      {
        name: "getUser of another",
        method: "GET",
        path: () => `/v1/users/${target.id}`,
        expect: { user: 404, moderator: 200, admin: 200 },
      },
      {
        name: "updateUser names of another",
        method: "PATCH",
        path: () => `/v1/users/${target.id}`,
        body: { company: "Changed" },
        expect: { user: 404, moderator: 403, admin: 200 },
      },
      {
        name: "getDbStatus",
        method: "GET",
        path: () => "/v1/admin/db-status",
        expect: { user: 403, moderator: 403, admin: 200 },
      },
      {
        name: "listAuditEvents",
        method: "GET",
        path: () => "/v1/admin/audit-log",
        expect: { user: 403, moderator: 403, admin: 200 },
      },
      // Escalating yourself; the admin keeps its role, so its session survives.
      ...(["role", "tier", "disabled"] as const).flatMap((field) => {
        const value = { role: "moderator", tier: "pro", disabled: false }[field];
        const own = { role: "admin", tier: "enterprise", disabled: false }[field];
        return [
          {
            name: `updateUser ${field} of yourself`,
            method: "PATCH",
            path: (caller: TestUser) => `/v1/users/${caller.id}`,
            body: { [field]: own },
            expect: { user: 403, moderator: 403, admin: 200 } as Record<Role, number>,
          },
          {
            name: `updateUser ${field} of another`,
            method: "PATCH",
            path: () => `/v1/users/${target.id}`,
            body: { [field]: value },
            expect: { user: 404, moderator: 403, admin: 200 } as Record<Role, number>,
          },
        ];
      }),
    ];

    for (const row of matrix) {
      for (const role of ["user", "moderator", "admin"] as const) {
        await t.step(`${row.name} as ${role} → ${row.expect[role]}`, async () => {
          const before = await targetRow();
          const res = await call(h, row.method, row.path(callers[role]), callers[role], row.body);
          assert.equal(res.status, row.expect[role], JSON.stringify(res.body));
          if (res.status >= 400) assert.deepEqual(await targetRow(), before);
          if (res.status === 403) assert.equal(res.body.error, "forbidden");
        });
      }
    }

    await t.step("role-gated paths refuse other methods (405), never run them", async () => {
      for (const path of ["/v1/users", "/v1/admin/db-status", "/v1/admin/audit-log"]) {
        for (const method of ["POST", "PUT", "DELETE"]) {
          const res = await call(h, method, path, callers.user as Credential, {});
          assert.equal(res.status, 405, `${method} ${path}`);
        }
      }
    });

    await t.step("deleteUser of another: user 404, moderator 403, admin 204", async () => {
      assert.equal((await call(h, "DELETE", `/v1/users/${target.id}`, callers.user)).status, 404);
      const mod = await call(h, "DELETE", `/v1/users/${target.id}`, callers.moderator);
      assert.equal(mod.status, 403);
      const admin = await call(h, "DELETE", `/v1/users/${target.id}`, callers.admin);
      assert.equal(admin.status, 204);
    });
  } finally {
    await h.close();
  }
});
