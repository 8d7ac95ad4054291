import assert from "node:assert/strict";
import { startAppWithMock } from "./support/chat.ts";
import { call, createChatbot, type Json, putDetails } from "./support/user_context_fixtures.ts";
import { registerUser } from "./support/users.ts";
import { parseSse } from "./support/sse.ts";

type Sent = { role: string; content: string }[];

Deno.test("chatbots: system prompt, models, temperature and consented context", async (t) => {
  const { h, mock, close } = await startAppWithMock({
    "m-first": { reply: "first model" },
    "m-bot": { reply: "bot answer" },
  });
  try {
    const user = await registerUser(h, { displayName: "Ada" });
    await putDetails(h, user, {
      profile: { favourite_color: "teal", shoe_size: 41 },
      preferences: { tone: "formal" },
    });
    const open = await createChatbot(h, user, {
      name: "Open",
      system_prompt: "You are Open.",
      models: ["m-bot"],
      temperature: 0.3,
      context_fields: ["display_name", "favourite_color", "tone"],
    });
    const careful = await createChatbot(h, user, {
      name: "Careful",
      system_prompt: "You are Careful.",
      models: ["m-bot"],
      context_fields: ["favourite_color"],
      require_consent: true,
    });
    const lastSent = () => mock.requestsFor("m-bot").at(-1)!.body!.messages as Sent;

    await t.step("queryChatbot answers as the chatbot with its context fields", async () => {
      const res = await call(h, "POST", `/v1/chatbots/${open.id}/query`, user, {
        message: "Which colour suits me?",
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const body = res.body;
      assert.equal(body.chatbot_id, open.id);
      assert.equal(body.chatbot_name, "Open");
      assert.equal(body.answer, "bot answer");
      assert.equal(body.model, "m-bot", "the chatbot's models, not the best-ranked one");
      assert.equal(body.user_message, "Which colour suits me?");
      assert.match(body.message_id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(body.user_context.user_profile, {
        display_name: "Ada",
        favourite_color: "teal",
      });
      assert.deepEqual(body.user_context.preferences, { tone: "formal" });
      assert.equal(body.requires_consent, undefined);
      assert.ok(body.usage.input_tokens > 0);
      const sent = lastSent();
      assert.equal(sent[0]!.role, "system");
      assert.match(sent[0]!.content, /^You are Open\./);
      assert.match(sent[0]!.content, /teal/);
      assert.match(sent[0]!.content, /formal/);
      // Without the session line: its timestamps may contain "41".
      const withoutSession = sent[0]!.content.replace(/^session: .*$/m, "");
      assert.doesNotMatch(withoutSession, /shoe_size|41|@example\.com/);
      assert.deepEqual(sent.at(-1), { role: "user", content: "Which colour suits me?" });
      assert.equal(mock.requestsFor("m-bot").at(-1)!.body!.temperature, 0.3);
    });

    await t.step("without a chatbot no user context is sent", async () => {
      const res = await call(h, "POST", "/v1/query", user, { prompt: "plain", mode: "balanced" });
      assert.equal(res.status, 200);
      assert.equal(res.body.answers[0].model, "m-first");
      const sent = mock.requestsFor("m-first").at(-1)!.body!.messages as Sent;
      assert.deepEqual(sent, [{ role: "user", content: "plain" }]);
    });

    let consentRequest: Json;
    await t.step("fields awaiting consent are left out and requires_consent says so", async () => {
      const res = await call(h, "POST", `/v1/chatbots/${careful.id}/query`, user, {
        message: "Hello",
      });
      assert.equal(res.status, 200);
      consentRequest = res.body.requires_consent;
      assert.equal(consentRequest.chatbot_id, careful.id);
      assert.deepEqual(consentRequest.fields, ["favourite_color"]);
      assert.ok(consentRequest.purpose);
      assert.deepEqual(res.body.user_context.user_profile, {});
      assert.doesNotMatch(lastSent()[0]!.content, /teal/);

      const chat = await call(h, "POST", "/v1/chat/messages", user, {
        message: "Hello again",
        chatbot_id: careful.id,
      });
      assert.equal(
        chat.body.requires_consent.consent_request_id,
        consentRequest.consent_request_id,
      );
      const query = await call(h, "POST", "/v1/query", user, {
        prompt: "and again",
        mode: "balanced",
        chatbot_id: careful.id,
      });
      assert.equal(
        query.body.requires_consent.consent_request_id,
        consentRequest.consent_request_id,
      );
      assert.equal(query.body.answers[0].model, "m-bot");
    });

    await t.step("after consent the fields are sent; after revocation no more", async () => {
      const approve = await call(h, "POST", "/v1/chat/consent", user, {
        consent_request_id: consentRequest.consent_request_id,
        approved: true,
      });
      assert.equal(approve.status, 200, JSON.stringify(approve.body));
      const res = await call(h, "POST", `/v1/chatbots/${careful.id}/query`, user, {
        message: "Now?",
      });
      assert.equal(res.body.requires_consent, undefined);
      assert.deepEqual(res.body.user_context.user_profile, { favourite_color: "teal" });
      assert.match(lastSent()[0]!.content, /teal/);

      const consents = await call(h, "GET", "/v1/consents", user);
      const consentId = consents.body.items[0].id;
      const revoke = await call(h, "DELETE", `/v1/consents/${consentId}`, user);
      assert.equal(revoke.status, 204);
      const after = await call(h, "POST", `/v1/chatbots/${careful.id}/query`, user, {
        message: "And now?",
      });
      assert.ok(after.body.requires_consent);
      assert.doesNotMatch(lastSent()[0]!.content, /teal/);
    });

    await t.step("history of the chatbot conversation reaches the model", async () => {
      const first = await call(h, "POST", `/v1/chatbots/${open.id}/query`, user, {
        message: "Remember 42",
      });
      await call(h, "POST", `/v1/chatbots/${open.id}/query`, user, {
        message: "What number?",
        conversation_id: first.body.conversation_id,
      });
      const sent = lastSent();
      assert.deepEqual(sent.slice(1), [
        { role: "user", content: "Remember 42" },
        { role: "assistant", content: "bot answer" },
        { role: "user", content: "What number?" },
      ]);
    });

    await t.step("streamed chatbot queries carry requires_consent in meta and done", async () => {
      const res = await h.json("POST", `/v1/chatbots/${careful.id}/query`, {
        message: "stream",
        stream: true,
      }, { token: user.accessToken });
      const { events } = parseSse(await res.text());
      const meta = events[0]!;
      const done = events.at(-1)!;
      assert.equal(meta.event, "meta");
      assert.ok("requires_consent" in (meta.data as object));
      assert.equal(done.event, "done");
      assert.equal((done.data as { chatbot_name: string }).chatbot_name, "Careful");
      assert.ok("requires_consent" in (done.data as object));
    });
  } finally {
    await close();
  }
});
