/**
 * Streams end honestly, on every streaming way out (SSE, WebSocket, the
 * OpenAI-compatible endpoint through the `openai` SDK), for every way an
 * upstream can end badly: fallback only before the first content; after it an
 * error ending (never done / [DONE] / finish_reason stop), the answer stored
 * `incomplete` with its usage; silence counts as failure.
 */
import assert from "node:assert/strict";
import OpenAI, { APIError } from "openai";
import { startServer } from "../src/server.ts";
import { startAppWithMock } from "./support/chat.ts";
import { parseSse } from "./support/sse.ts";
import type { MockModel } from "./support/mock_openai_server.ts";
import { socketJson, type TestApp } from "./support/harness.ts";
import { createChatbot, type Json } from "./support/user_context_fixtures.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

const REPLY = "alpha beta gamma delta epsilon";
const PARTIAL = "alpha beta ";

const upstreams: Record<string, MockModel> = {
  // After two content chunks: an error event / the connection dropped / silence.
  cut: { reply: REPLY, failAfterChunks: 2 },
  drop: { reply: REPLY, failAfterChunks: 2, failWith: "truncate" },
  stall: { reply: REPLY, stallAfterChunks: 2 },
  // Before the first byte: a 503 / silence.
  down: { status: 503 },
  silent: { hang: true },
  // A complete answer without usage.
  quiet: { reply: "no usage here", usage: false },
  // Used once each, by the last two steps (the others have opened their circuit breakers).
  "drop-once": { reply: REPLY, failAfterChunks: 2, failWith: "truncate" },
  "down-once": { status: 503 },
  // Ranked last: the fallback of every chatbot here.
  backup: { reply: "backup answer" },
};

interface Ending {
  /** Text the client received. */
  text: string;
  /** How it ended: "done" (complete) or "error". */
  end: "done" | "error";
  conversationId: string;
}

type Way = (chatbotId: string) => Promise<Ending>;

function waysOut(h: TestApp, port: number, user: TestUser, key: string): Record<string, Way> {
  return {
    async sse(chatbotId) {
      const res = await h.json("POST", `/v1/chatbots/${chatbotId}/query`, {
        message: "go",
        stream: true,
      }, { token: user.accessToken });
      assert.equal(res.status, 200);
      const { events } = parseSse(await res.text());
      const names = events.map((e) => e.event);
      assert.ok(!(names.includes("done") && names.includes("error")), names.join());
      return {
        text: events.filter((e) => e.event === "chunk").map((e) => (e.data as Json).delta).join(""),
        end: names.at(-1) as Ending["end"],
        conversationId: (events[0]!.data as Json).conversation_id,
      };
    },

    async websocket(chatbotId) {
      const ticketRes = await h.json("POST", "/v1/chat/ws-ticket", undefined, {
        token: user.accessToken,
      });
      const { ticket } = await ticketRes.json();
      const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/chat/ws?ticket=${ticket}`);
      const messages: Json[] = [];
      const closed = new Promise((resolve) => (socket.onclose = resolve));
      const ended = new Promise<void>((resolve, reject) => {
        socket.onerror = () => reject(new Error("socket error"));
        socket.onmessage = (event) => {
          const message = JSON.parse(event.data);
          messages.push(message);
          if (message.type === "done" || message.type === "error") resolve();
        };
      });
      await new Promise((resolve) => (socket.onopen = resolve));
      socket.send(JSON.stringify({ type: "message", message: "go", chatbot_id: chatbotId }));
      await ended;
      socket.close();
      await closed;
      const types = messages.map((m) => m.type);
      assert.ok(!(types.includes("done") && types.includes("error")), types.join());
      return {
        text: messages.filter((m) => m.type === "chunk").map((m) => m.delta).join(""),
        end: types.at(-1),
        conversationId: messages.find((m) => m.type === "conversation_id").conversation_id,
      };
    },

    async openai(chatbotId) {
      const openai = new OpenAI({
        baseURL: `http://127.0.0.1:${port}/openai/v1`,
        apiKey: key,
        maxRetries: 0,
        defaultHeaders: { "X-Gatehouse-Chatbot": chatbotId },
      });
      const { data: stream, response } = await openai.chat.completions.create({
        model: "gatehouse/chatbot",
        messages: [{ role: "user", content: "go" }],
        stream: true,
        stream_options: { include_usage: true },
      }).withResponse();
      let text = "";
      const finishes: string[] = [];
      let end: Ending["end"] = "done";
      try {
        for await (const chunk of stream) {
          for (const choice of chunk.choices) {
            text += choice.delta.content ?? "";
            if (choice.finish_reason) finishes.push(choice.finish_reason);
          }
        }
      } catch (error) {
        assert.ok(error instanceof APIError, String(error));
        assert.equal(error.code, "service_unavailable");
        end = "error";
      }
      // A cut answer never carries a finish_reason, least of all "stop".
      assert.deepEqual(finishes, end === "done" ? ["stop"] : []);
      return { text, end, conversationId: response.headers.get("x-gatehouse-conversation-id")! };
    },
  };
}

async function stored(h: TestApp, conversationId: string) {
  const messages = await h.services.sql<
    { status: string; content: string; model: string; error: string | null }[]
  >`
    select status, content, model, metadata->'error'->>'message' as error from messages
    where conversation_id = ${conversationId} and role = 'assistant' order by seq`;
  const usage = await h.services.sql<
    { model: string; status: string; input_tokens: number; output_tokens: number }[]
  >`select model, status, input_tokens, output_tokens from usage_records
    where conversation_id = ${conversationId} order by model`;
  return { messages, usage };
}

Deno.test("stream endings: every way out ends honestly for every upstream failure", async (t) => {
  const { h, mock, close } = await startAppWithMock(upstreams, {
    LLM_STREAM_IDLE_TIMEOUT_MS: "300",
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 10_000, per_day: 100_000 } }),
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const { key } = await createKey(h, user);
    const ways = waysOut(h, server.port, user, key);
    const chatbots: Record<string, string> = {};
    for (const name of ["cut", "drop", "stall", "down", "silent", "quiet", "drop-once"]) {
      chatbots[name] = (await createChatbot(h, user, { name, models: [name, "backup"] })).id;
    }

    for (const failure of ["cut", "drop", "stall"]) {
      for (const [way, run] of Object.entries(ways)) {
        await t.step(
          `${failure} after content, ${way}: error ending, stored incomplete`,
          async () => {
            const backupCalls = mock.requestsFor("backup").length;
            const ending = await run(chatbots[failure]!);
            assert.equal(ending.end, "error");
            assert.equal(ending.text, PARTIAL, "no other model's text spliced on");
            assert.equal(
              mock.requestsFor("backup").length,
              backupCalls,
              "no fallback after content",
            );
            const { messages, usage } = await stored(h, ending.conversationId);
            assert.deepEqual(messages.map((m) => [m.model, m.status, m.content]), [
              [failure, "incomplete", PARTIAL],
            ]);
            if (failure === "stall") {
              // The idle timeout ended it, not the model's 5 s deadline.
              assert.match(messages[0]!.error!, /no data from upstream for 300 ms/);
            }
            assert.equal(usage.length, 1);
            assert.equal(usage[0]!.status, "incomplete");
            assert.ok(usage[0]!.input_tokens > 0 && usage[0]!.output_tokens > 0, "usage settled");
          },
        );
      }
    }

    for (const failure of ["down", "silent"]) {
      for (const [way, run] of Object.entries(ways)) {
        await t.step(`${failure} before content, ${way}: falls back, done`, async () => {
          const ending = await run(chatbots[failure]!);
          assert.equal(ending.end, "done");
          assert.equal(ending.text, "backup answer");
          const { messages, usage } = await stored(h, ending.conversationId);
          assert.deepEqual(messages.map((m) => [m.model, m.status]), [
            ["backup", "complete"],
            [failure, "error"],
          ]);
          if (failure === "silent") {
            assert.match(messages[1]!.error!, /no data from upstream for 300 ms/);
          }
          assert.deepEqual(usage.map((u) => [u.model, u.status]), [
            ["backup", "complete"],
            [failure, "error"],
          ]);
        });
      }
    }

    for (const [way, run] of Object.entries(ways)) {
      await t.step(`an upstream without usage, ${way}: done, usage estimated`, async () => {
        const ending = await run(chatbots.quiet!);
        assert.equal(ending.end, "done");
        assert.equal(ending.text, "no usage here");
        const { usage } = await stored(h, ending.conversationId);
        assert.equal(usage.length, 1);
        assert.equal(usage[0]!.status, "complete");
        assert.equal(usage[0]!.output_tokens, Math.ceil("no usage here".length / 4));
        assert.ok(usage[0]!.input_tokens > 0);
      });
    }

    await t.step("the OpenAI endpoint's cut stream: an error line and no [DONE]", async () => {
      const res = await socketJson(`http://127.0.0.1:${server.port}`)(
        "POST",
        "/openai/v1/chat/completions",
        { model: "gatehouse/chatbot", messages: [{ role: "user", content: "go" }], stream: true },
        { token: key, headers: { "x-gatehouse-chatbot": chatbots["drop-once"]! } },
      );
      const { events } = parseSse(await res.text());
      assert.ok(!events.some((e) => e.data === "[DONE]"), JSON.stringify(events));
      const last = events.at(-1)!.data as { error: { code: string; message: string } };
      assert.equal(last.error.code, "service_unavailable");
      assert.match(last.error.message, /middle of its answer/);
    });

    await t.step(
      "every candidate failing before content: the OpenAI endpoint answers 503",
      async () => {
        const bot = await createChatbot(h, user, { name: "doomed", models: ["down-once"] });
        const res = await socketJson(`http://127.0.0.1:${server.port}`)(
          "POST",
          "/openai/v1/chat/completions",
          { model: "gatehouse/chatbot", messages: [{ role: "user", content: "go" }], stream: true },
          { token: key, headers: { "x-gatehouse-chatbot": bot.id } },
        );
        assert.equal(res.status, 503);
        const body = await res.json();
        assert.equal(body.error.code, "service_unavailable");
        assert.equal(mock.requestsFor("down-once").length, 1, "the model was tried");
      },
    );
  } finally {
    await server.shutdown();
    await close();
  }
});
