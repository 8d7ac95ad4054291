import assert from "node:assert/strict";
import { hashOpaqueToken } from "../src/auth/opaque_token.ts";
import {
  call,
  context,
  createChatbot,
  putDetails,
  startRoomyTestApp,
} from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("consent: context filtering, approval, denial and revocation", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const ada = await registerUser(h, { displayName: "Ada" });
    await call(h, "PATCH", `/v1/users/${ada.id}`, ada, { company: "AE", job_title: "Countess" });
    await putDetails(h, ada, {
      profile: { city: "London", pet: "cat" },
      preferences: { language: "en", tone: "formal" },
    });
    const open = await createChatbot(h, ada, {
      name: "Open",
      context_fields: ["company", "language"],
    });
    const careful = await createChatbot(h, ada, {
      name: "Careful",
      context_fields: ["company", "city", "language"],
      require_consent: true,
    });
    let requestId = "";
    let consentId = "";

    await t.step("a chatbot's context holds only its context_fields", async () => {
      const res = await context(h, ada, ada.id, { chatbot_id: open.id });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.user_profile, { company: "AE" });
      assert.deepEqual(res.body.preferences, { language: "en" });
      assert.equal(res.body.requires_consent, undefined);
    });

    await t.step("without consent the fields are left out and a request is opened", async () => {
      const res = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.user_profile, {});
      assert.deepEqual(res.body.preferences, {});
      const asked = res.body.requires_consent;
      assert.equal(asked.chatbot_id, careful.id);
      assert.deepEqual(asked.fields, ["company", "city", "language"]);
      assert.match(asked.purpose, /Careful/);
      requestId = asked.consent_request_id;
    });

    await t.step("asking again reuses the pending request", async () => {
      const res = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.equal(res.body.requires_consent.consent_request_id, requestId);
      const [row] = await h.services.sql<{ n: number }[]>`
        select count(*)::int as n from consent_requests where user_id = ${ada.id}`;
      assert.equal(row!.n, 1);
    });

    await t.step("respondToConsent needs the chat scope", async () => {
      const key = await createKey(h, ada, { name: "p", scopes: ["profile:read"] });
      const res = await call(h, "POST", "/v1/chat/consent", key.key, {
        consent_request_id: requestId,
        approved: true,
      });
      assert.equal(res.status, 403);
    });

    await t.step("approval returns a token stored only as its hash", async () => {
      const res = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: requestId,
        approved: true,
        fields: ["everything"],
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.consent_request_id, requestId);
      assert.equal(res.body.status, "approved");
      assert.match(res.body.consent_token, /^ct_[A-Za-z0-9_-]{43}$/);
      assert.ok(res.body.message);
      const rows = await h.services.sql<{ id: string; token_hash: string; fields: string[] }[]>`
        select id, token_hash, fields from consents where user_id = ${ada.id}`;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.token_hash, hashOpaqueToken(res.body.consent_token));
      assert.deepEqual(rows[0]!.fields, ["company", "city", "language"]);
      const [leak] = await h.services.sql`
        select 1 from consents c where strpos(c::text, ${res.body.consent_token}) > 0`;
      assert.equal(leak, undefined);
      consentId = rows[0]!.id;
    });

    await t.step("answering twice is 409", async () => {
      const res = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: requestId,
        approved: false,
      });
      assert.equal(res.status, 409);
    });

    await t.step("later contexts include the consented fields", async () => {
      const res = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.deepEqual(res.body.user_profile, { company: "AE", city: "London" });
      assert.deepEqual(res.body.preferences, { language: "en" });
      assert.equal(res.body.requires_consent, undefined);
      assert.deepEqual(res.body.consents.map((c: { consent_id: string }) => c.consent_id), [
        consentId,
      ]);
    });

    await t.step("listConsents shows the grant", async () => {
      const res = await call(h, "GET", "/v1/consents", ada);
      assert.equal(res.status, 200);
      assert.equal(res.body.total, 1);
      assert.equal(res.body.items[0].id, consentId);
      assert.equal(res.body.items[0].chatbot_id, careful.id);
      assert.equal(res.body.items[0].consent_request_id, requestId);
      assert.deepEqual(res.body.items[0].fields, ["company", "city", "language"]);
    });

    await t.step("a new context field needs consent of its own", async () => {
      await call(h, "PATCH", `/v1/chatbots/${careful.id}`, ada, {
        context_fields: ["company", "city", "language", "tone"],
      });
      const res = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.deepEqual(res.body.preferences, { language: "en" });
      assert.deepEqual(res.body.requires_consent.fields, ["tone"]);
      assert.notEqual(res.body.requires_consent.consent_request_id, requestId);
    });

    await t.step("denial stores no grant and the field stays out", async () => {
      const pending = (await context(h, ada, ada.id, { chatbot_id: careful.id })).body
        .requires_consent.consent_request_id;
      const res = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: pending,
        approved: false,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "denied");
      assert.equal(res.body.consent_token, undefined);
      const after = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.deepEqual(after.body.preferences, { language: "en" });
      assert.equal((await call(h, "GET", "/v1/consents", ada)).body.total, 1);
    });

    await t.step("revocation removes the fields again", async () => {
      assert.equal((await call(h, "DELETE", `/v1/consents/${consentId}`, ada)).status, 204);
      assert.equal((await call(h, "DELETE", `/v1/consents/${consentId}`, ada)).status, 404);
      const res = await context(h, ada, ada.id, { chatbot_id: careful.id });
      assert.deepEqual(res.body.user_profile, {});
      assert.deepEqual(res.body.preferences, {});
      assert.deepEqual(res.body.requires_consent.fields, ["company", "city", "language", "tone"]);
      assert.deepEqual(res.body.consents, []);
      assert.equal((await call(h, "GET", "/v1/consents", ada)).body.total, 0);
    });

    await t.step("every change is audited", async () => {
      const rows = await h.services.sql<{ action: string }[]>`
        select action from audit_events where user_id = ${ada.id} and action like 'consent.%'
        order by occurred_at`;
      assert.deepEqual(rows.map((r) => r.action), [
        "consent.grant",
        "consent.deny",
        "consent.revoke",
      ]);
    });

    await t.step("unknown ids are 404; malformed bodies 422", async () => {
      const res = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: crypto.randomUUID(),
        approved: true,
      });
      assert.equal(res.status, 404);
      const bad = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: requestId,
        approved: "yes",
      });
      assert.equal(bad.status, 422);
      assert.equal((await call(h, "DELETE", "/v1/consents/not-a-uuid", ada)).status, 422);
    });
  } finally {
    await h.close();
  }
});

Deno.test("consent: chatbot-bound keys", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const ada = await registerUser(h);
    await call(h, "PATCH", `/v1/users/${ada.id}`, ada, { company: "AE", first_name: "Ada" });
    const bot = await createChatbot(h, ada, {
      name: "Bound",
      context_fields: ["company"],
      require_consent: true,
    });
    const otherBot = await createChatbot(h, ada, { name: "Other", context_fields: ["first_name"] });
    const key = await createKey(h, ada, { name: "bot key", chatbot_id: bot.id, scopes: ["chat"] });

    await t.step("the key's context is always its chatbot's", async () => {
      const res = await context(h, key.key, ada.id);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.user_profile, {});
      assert.equal(res.body.requires_consent.chatbot_id, bot.id);
      const same = await context(h, key.key, ada.id, { chatbot_id: bot.id });
      assert.equal(same.status, 200);
    });

    await t.step("another chatbot's context is 404", async () => {
      const res = await context(h, key.key, ada.id, { chatbot_id: otherBot.id });
      assert.equal(res.status, 404);
    });

    await t.step("consent decisions need the user's JWT, never the key", async () => {
      await h.services.sql`
        insert into consent_requests (user_id, chatbot_id, fields, purpose)
        values (${ada.id}, ${otherBot.id}, ${["first_name"]}, 'test')`;
      const pending = (await context(h, key.key, ada.id)).body.requires_consent;
      const byKey = await call(h, "POST", "/v1/chat/consent", key.key, {
        consent_request_id: pending.consent_request_id,
        approved: true,
      });
      assert.equal(byKey.status, 403);
      assert.deepEqual((await context(h, key.key, ada.id)).body.user_profile, {});
      const ok = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: pending.consent_request_id,
        approved: true,
      });
      assert.equal(ok.status, 200);
      assert.deepEqual((await context(h, key.key, ada.id)).body.user_profile, { company: "AE" });
    });

    await t.step("the key lists and revokes only its chatbot's consents", async () => {
      const own = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: (await h.services.sql<{ id: string }[]>`
          select id from consent_requests where chatbot_id = ${otherBot.id}`)[0]!.id,
        approved: true,
      });
      assert.equal(own.status, 200);
      const all = await call(h, "GET", "/v1/consents", ada);
      assert.equal(all.body.total, 2);
      const viaKey = await call(h, "GET", "/v1/consents", key.key);
      assert.equal(viaKey.body.total, 1);
      assert.equal(viaKey.body.items[0].chatbot_id, bot.id);
      const otherConsent = all.body.items.find((c: { chatbot_id: string }) =>
        c.chatbot_id === otherBot.id
      );
      assert.equal(
        (await call(h, "DELETE", `/v1/consents/${otherConsent.id}`, key.key)).status,
        404,
      );
    });
  } finally {
    await h.close();
  }
});
