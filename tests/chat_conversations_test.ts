import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { call, createChatbot, type Json } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("chat: messages, conversations and their persistence", async (t) => {
  const h = await startTestApp();
  try {
    const ada = await registerUser(h);
    const eve = await registerUser(h);
    let first: Json;
    let second: Json;

    await t.step("sendChatMessage starts a conversation and answers", async () => {
      const res = await call(h, "POST", "/v1/chat/messages", ada, {
        message:
          "  Hello there,\n how are you doing today? I have a rather long question about the weather.  ",
      });
      assert.equal(res.status, 200);
      first = res.body;
      assert.match(first.conversation_id, /^[0-9a-f-]{36}$/);
      assert.match(first.message_id, /^[0-9a-f-]{36}$/);
      assert.match(first.content, /^Echo: /);
      assert.equal(first.model, "echo-smart");
      assert.deepEqual(first.tool_calls, []);
      assert.deepEqual(first.results, []);
      assert.equal(first.requires_consent, undefined);
    });

    await t.step("a second message continues the conversation", async () => {
      const res = await call(h, "POST", "/v1/chat/messages", ada, {
        message: "And another thing",
        conversation_id: first.conversation_id,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.conversation_id, first.conversation_id);
    });

    await t.step("quality queries store every answer, the selected one first", async () => {
      const res = await call(h, "POST", "/v1/query", ada, { prompt: "Compare", mode: "quality" });
      assert.equal(res.status, 200);
      second = res.body;
    });

    await t.step("listConversations: own, most recently active first, with counts", async () => {
      const res = await call(h, "GET", "/v1/chat/conversations", ada);
      assert.equal(res.status, 200);
      assert.equal(res.body.total, 2);
      const [latest, older] = res.body.items;
      assert.equal(latest.id, second.conversation_id);
      assert.equal(latest.title, "Compare");
      assert.equal(latest.message_count, 3);
      assert.equal(older.id, first.conversation_id);
      assert.equal(older.message_count, 4);
      assert.equal(older.last_message_preview, "Echo: And another thing");
      assert.ok(older.title.length <= 80);
      assert.match(older.title, /^Hello there, how are you doing today\?/);
      assert.ok(older.title.endsWith("…"));
      assert.ok(Date.parse(latest.updated_at) >= Date.parse(older.updated_at));

      const paged = await call(h, "GET", "/v1/chat/conversations?limit=1&offset=1", ada);
      assert.deepEqual(paged.body.items.map((c: Json) => c.id), [first.conversation_id]);
      assert.equal(paged.body.limit, 1);
      assert.equal(paged.body.offset, 1);
      const bad = await call(h, "GET", "/v1/chat/conversations?limit=101", ada);
      assert.equal(bad.status, 422);
    });

    await t.step("getConversation returns the messages with their status", async () => {
      const res = await call(h, "GET", `/v1/chat/conversations/${first.conversation_id}`, ada);
      assert.equal(res.status, 200);
      const { messages } = res.body;
      assert.deepEqual(messages.map((m: Json) => m.role), [
        "user",
        "assistant",
        "user",
        "assistant",
      ]);
      assert.ok(messages.every((m: Json) => m.status === "complete"));
      assert.equal(messages[1].id, first.message_id);
      assert.equal(messages[1].model, "echo-smart");
      assert.equal(messages[1].finish_reason, "stop");
      assert.equal(messages[1].selected, true);
      assert.equal(messages[0].model, null);

      const quality = await call(h, "GET", `/v1/chat/conversations/${second.conversation_id}`, ada);
      const answers = quality.body.messages.filter((m: Json) => m.role === "assistant");
      assert.deepEqual(answers.map((m: Json) => [m.model, m.selected]), [
        ["echo-smart", true],
        ["echo-fast", false],
      ]);
      assert.equal(quality.body.messages[0].id, second.id, "the query id is the prompt's id");
    });

    await t.step("another user's conversation is 404 everywhere", async () => {
      const id = first.conversation_id;
      assert.equal((await call(h, "GET", `/v1/chat/conversations/${id}`, eve)).status, 404);
      assert.equal((await call(h, "DELETE", `/v1/chat/conversations/${id}`, eve)).status, 404);
      const chat = await call(h, "POST", "/v1/chat/messages", eve, {
        message: "sneaky",
        conversation_id: id,
      });
      assert.equal(chat.status, 404);
      const query = await call(h, "POST", "/v1/query", eve, {
        prompt: "sneaky",
        mode: "speed",
        conversation_id: id,
      });
      assert.equal(query.status, 404);
      assert.equal((await call(h, "GET", "/v1/chat/conversations", eve)).body.total, 0);
      const missing = await call(h, "GET", `/v1/chat/conversations/${crypto.randomUUID()}`, ada);
      assert.equal(missing.status, 404);
      assert.equal((await call(h, "GET", "/v1/chat/conversations/not-a-uuid", ada)).status, 422);
    });

    await t.step("deleteConversation cascades to messages; usage stays, unlinked", async () => {
      const id = first.conversation_id;
      const del = await call(h, "DELETE", `/v1/chat/conversations/${id}`, ada);
      assert.equal(del.status, 204);
      assert.equal((await call(h, "GET", `/v1/chat/conversations/${id}`, ada)).status, 404);
      assert.equal((await call(h, "DELETE", `/v1/chat/conversations/${id}`, ada)).status, 404);
      const [messages] = await h.services.sql<{ n: number }[]>`
        select count(*)::int as n from messages where conversation_id = ${id}`;
      assert.equal(messages!.n, 0);
      const [usage] = await h.services.sql<{ n: number }[]>`
        select count(*)::int as n from usage_records
        where user_id = ${ada.id} and conversation_id is null`;
      assert.equal(usage!.n, 2, "both model calls of the deleted conversation are still counted");
    });

    await t.step("the chat scope is required", async () => {
      const key = await createKey(h, ada, { name: "query only", scopes: ["query"] });
      for (
        const [method, path, body] of [
          ["GET", "/v1/chat/conversations", undefined],
          ["POST", "/v1/chat/messages", { message: "hi" }],
          ["POST", "/v1/chat/ws-ticket", undefined],
        ] as const
      ) {
        const res = await call(h, method, path, key.key, body);
        assert.equal(res.status, 403, path);
      }
    });
  } finally {
    await h.close();
  }
});

Deno.test("chat: chatbot conversations and chatbot-bound keys", async (t) => {
  const h = await startTestApp();
  try {
    const owner = await registerUser(h);
    const helper = await createChatbot(h, owner, { name: "Helper" });
    const other = await createChatbot(h, owner, { name: "Other" });
    const bound = await createKey(h, owner, { name: "helper key", chatbot_id: helper.id });
    let helperConversation = "";

    await t.step("a bound key talks to its chatbot by default", async () => {
      const res = await call(h, "POST", "/v1/chat/messages", bound.key, { message: "hi" });
      assert.equal(res.status, 200);
      helperConversation = res.body.conversation_id;
      const [row] = await h.services.sql<{ chatbot_id: string }[]>`
        select chatbot_id from conversations where id = ${helperConversation}`;
      assert.equal(row!.chatbot_id, helper.id);
    });

    await t.step("a bound key cannot use another chatbot (404)", async () => {
      const chat = await call(h, "POST", "/v1/chat/messages", bound.key, {
        message: "hi",
        chatbot_id: other.id,
      });
      assert.equal(chat.status, 404);
      const query = await call(h, "POST", "/v1/query", bound.key, {
        prompt: "hi",
        mode: "speed",
        chatbot_id: other.id,
      });
      assert.equal(query.status, 404);
      const direct = await call(h, "POST", `/v1/chatbots/${other.id}/query`, bound.key, {
        message: "hi",
      });
      assert.equal(direct.status, 404);
    });

    await t.step("a bound key lists only its chatbot's conversations", async () => {
      const own = await call(h, "POST", "/v1/chat/messages", owner, {
        message: "other bot",
        chatbot_id: other.id,
      });
      assert.equal(own.status, 200);
      const plain = await call(h, "POST", "/v1/chat/messages", owner, { message: "no bot" });
      assert.equal(plain.status, 200);
      const listed = await call(h, "GET", "/v1/chat/conversations", bound.key);
      assert.deepEqual(listed.body.items.map((c: Json) => c.id), [helperConversation]);
      const foreign = await call(
        h,
        "GET",
        `/v1/chat/conversations/${own.body.conversation_id}`,
        bound.key,
      );
      assert.equal(foreign.status, 404);
      assert.equal((await call(h, "GET", "/v1/chat/conversations", owner)).body.total, 3);
    });

    await t.step("naming another chatbot than the conversation's is 422", async () => {
      const res = await call(h, "POST", "/v1/chat/messages", owner, {
        message: "switch",
        conversation_id: helperConversation,
        chatbot_id: other.id,
      });
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.detail.issues[0].path, ["chatbot_id"]);
    });

    await t.step("someone else's chatbot is 404", async () => {
      const stranger = await registerUser(h);
      const res = await call(h, "POST", `/v1/chatbots/${helper.id}/query`, stranger, {
        message: "hi",
      });
      assert.equal(res.status, 404);
    });
  } finally {
    await h.close();
  }
});
