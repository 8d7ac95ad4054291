import assert from "node:assert/strict";
import type { Principal } from "../src/principal.ts";
import { startServer } from "../src/server.ts";
import { createChatbot, type Json } from "./support/user_context_fixtures.ts";
import { eventually, startAppWithMock } from "./support/chat.ts";
import { startTestApp } from "./support/harness.ts";
import { TestSocket, ticketFor, upgradeRequest } from "./support/ws_client.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("ws: tickets and the upgrade's gates", async (t) => {
  const h = await startTestApp({ CORS_ORIGINS: "https://app.example.com" });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);

    await t.step("createWsTicket answers 201 with a short-lived ticket", async () => {
      const res = await h.json("POST", "/v1/chat/ws-ticket", undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 201);
      assert.ok(res.headers.get("x-ratelimit-limit"));
      const body = await res.json();
      assert.match(body.ticket, /^wst_[A-Za-z0-9_-]{43}$/);
      assert.ok(body.expires_in > 0 && body.expires_in <= 30);
      const [row] = await h.services.sql<
        { ticket_hash: string }[]
      >`select ticket_hash from ws_tickets`;
      assert.notEqual(row!.ticket_hash, body.ticket, "stored hashed");
      assert.equal(row!.ticket_hash.length, 64);
    });

    await t.step("a ticket opens one socket only", async () => {
      const ticket = await ticketFor(h, user.accessToken);
      const socket = await TestSocket.open(server.port, ticket);
      socket.close();
      await socket.closed;
      const again = await upgradeRequest(h, ticket);
      assert.equal(again.status, 401);
      assert.equal((await again.json()).error, "unauthorized");
    });

    await t.step("an expired, unknown or missing ticket is 401", async () => {
      const ticket = await ticketFor(h, user.accessToken);
      await h.services.sql`update ws_tickets set expires_at = now() - interval '1 second'`;
      assert.equal((await upgradeRequest(h, ticket)).status, 401);
      assert.equal((await upgradeRequest(h, "wst_" + "A".repeat(43))).status, 401);
      assert.equal((await upgradeRequest(h, "")).status, 401);
    });

    await t.step("a foreign Origin is 403 before anything else; a listed one passes", async () => {
      const ticket = await ticketFor(h, user.accessToken);
      const foreign = await upgradeRequest(h, ticket, { origin: "https://evil.example" });
      assert.equal(foreign.status, 403);
      assert.equal((await foreign.json()).error, "forbidden");
      // The refused attempt did not burn the ticket: a listed origin may still use it.
      const socket = new WebSocket(
        `ws://127.0.0.1:${server.port}/v1/chat/ws?ticket=${ticket}`,
        // Deno's client accepts headers, so the Origin check runs over a real socket too.
        { headers: { origin: "https://app.example.com" } } as unknown as string[],
      );
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("listed origin refused"));
      });
      socket.close();
    });

    await t.step("a request without Upgrade is 400", async () => {
      const ticket = await ticketFor(h, user.accessToken);
      const res = await h.request(`/v1/chat/ws?ticket=${ticket}`);
      assert.equal(res.status, 400);
      await res.body?.cancel();
    });

    await t.step("createWsTicket is documented with the socket protocol", async () => {
      const doc = await (await h.request("/openapi.json")).json();
      const operation = doc.paths["/v1/chat/ws-ticket"].post;
      assert.equal(operation.operationId, "createWsTicket");
      assert.match(operation.description, /\/v1\/chat\/ws\?ticket=/);
      assert.match(operation.description, /Origin/);
      assert.equal(doc.paths["/v1/chat/ws"], undefined, "the socket is not an operation");
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});

Deno.test("ws: chat over a real socket", async (t) => {
  const { h, mock, close } = await startAppWithMock({
    "m-chat": { reply: "hello from the socket" },
    "m-slow": { reply: Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 40 },
  }, {
    MAX_PROMPT_CHARS: "100",
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 12, per_day: 1000 } }),
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
    let conversationId = "";

    await t.step("ping answers pong", async () => {
      socket.send({ type: "ping" });
      assert.deepEqual(await socket.until("pong"), [{ type: "pong" }]);
    });

    await t.step("a message streams conversation_id, chunks and done", async () => {
      socket.send({ type: "message", message: "hi socket" });
      const messages = await socket.until("done");
      assert.equal(messages[0].type, "conversation_id");
      conversationId = messages[0].conversation_id;
      const chunks = messages.filter((m) => m.type === "chunk");
      assert.equal(chunks.map((c) => c.delta).join(""), "hello from the socket");
      assert.ok(chunks.every((c) => c.model === "m-chat"));
      const done = messages.at(-1);
      assert.equal(done.conversation_id, conversationId);
      assert.equal(done.content, "hello from the socket");
      assert.deepEqual(done.tool_calls, []);
      assert.deepEqual(done.results, []);
      assert.match(done.message_id, /^[0-9a-f-]{36}$/);
      // The mock reports usage (prompt: 9 characters; 4 chunks) at $1 / $2 per M tokens.
      assert.deepEqual(done.usage, { input_tokens: 9, output_tokens: 4, cost_usd: 0.000017 });
    });

    await t.step("the conversation continues and is stored", async () => {
      socket.send({ type: "message", message: "again", conversation_id: conversationId });
      const messages = await socket.until("done");
      assert.equal(messages.at(-1).conversation_id, conversationId);
      const sent = mock.requestsFor("m-chat").at(-1)!.body!.messages as Json[];
      assert.equal(sent.length, 3, "history went upstream");
      const [row] = await h.services.sql<{ n: number }[]>`
        select count(*)::int as n from messages where conversation_id = ${conversationId}`;
      assert.equal(row!.n, 4);
    });

    await t.step("bad frames, unknown conversations and long prompts are errors", async () => {
      socket.send("{not json");
      assert.equal((await socket.until("error")).at(-1).error, "bad_request");
      socket.send({ type: "shout" });
      assert.equal((await socket.until("error")).at(-1).error, "validation_error");
      socket.send({ type: "message", message: "x".repeat(101) });
      assert.equal((await socket.until("error")).at(-1).error, "validation_error");
      socket.send({ type: "message", message: "hi", conversation_id: crypto.randomUUID() });
      assert.equal((await socket.until("error")).at(-1).error, "not_found");
    });

    await t.step("one message at a time per socket", async () => {
      const slowBot = await createChatbot(h, user, { name: "Slow", models: ["m-slow"] });
      socket.send({ type: "message", message: "slow one", chatbot_id: slowBot.id });
      await socket.until("chunk");
      socket.send({ type: "message", message: "impatient" });
      const error = (await socket.until("error")).at(-1);
      assert.equal(error.error, "conflict");
      await socket.until("done");
    });

    await t.step("messages count against the per-minute rate limit; pings do not", async () => {
      let limited: Json | undefined;
      for (let i = 0; i < 12 && !limited; i++) {
        socket.send({ type: "ping" });
        await socket.until("pong");
        socket.send({ type: "message", message: `n${i}` });
        const reply = await socket.until(["done", "error"]);
        limited = reply.find((m) => m.type === "error" && m.error === "rate_limited");
      }
      assert.ok(limited, "the limit was reached");
      assert.equal(limited.detail.policy, "minute");
      socket.messages.splice(0);
    });

    socket.close();
    await socket.closed;
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("ws: revoked credentials, the stream cap and shutdown", async (t) => {
  const { h, close } = await startAppWithMock({
    "m-slow": { reply: Array.from({ length: 60 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 40 },
    "m-hang": { hang: true },
  }, { MAX_STREAMS_PER_PRINCIPAL: "1" });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);

    await t.step("a revoked key stops the socket (error, close 1008)", async () => {
      const key = await createKey(h, user, { name: "socket key" });
      const socket = await TestSocket.open(server.port, await ticketFor(h, key.key));
      const revoke = await h.json("DELETE", `/v1/api-keys/${key.id}`, undefined, {
        token: user.accessToken,
      });
      assert.equal(revoke.status, 204);
      socket.send({ type: "message", message: "still there?" });
      assert.equal((await socket.until("error")).at(-1).error, "unauthorized");
      assert.equal((await socket.closed).code, 1008);
    });

    await t.step("the concurrent-stream cap applies to socket messages", async () => {
      const hold = await h.json("POST", "/v1/query", {
        prompt: "hold",
        mode: "balanced",
        models: ["m-hang"],
        stream: true,
      }, { token: user.accessToken });
      assert.equal(hold.status, 200);
      const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
      socket.send({ type: "message", message: "capped?" });
      const error = (await socket.until("error")).at(-1);
      assert.equal(error.error, "rate_limited");
      assert.equal(error.detail.policy, "concurrent_streams");
      await hold.body!.cancel();
      socket.close();
      await socket.closed;
      // The held stream frees its slot once its call is settled and its turn stored.
      const principal = { type: "user" as const, userId: user.id } as Principal;
      await eventually(() =>
        Promise.resolve(h.services.chat.streams.openFor(principal) === 0 || undefined)
      );
    });

    await t.step("shutdown closes sockets with 1001 and stores the cut answer", async () => {
      const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
      socket.send({ type: "message", message: "long story" });
      const [start] = await socket.until("conversation_id");
      await socket.until("chunk");
      h.services.lifecycle.beginDrain();
      assert.equal((await socket.closed).code, 1001);
      const row = await eventually(async () => {
        const [r] = await h.services.sql<{ status: string }[]>`
          select status from messages
          where conversation_id = ${start.conversation_id} and role = 'assistant'`;
        return r && r.status !== "pending" ? r : undefined;
      });
      assert.equal(row.status, "incomplete");
      const refused = await upgradeRequest(h, await ticketFor(h, user.accessToken));
      assert.equal(refused.status, 503);
      await refused.body?.cancel();
    });
  } finally {
    await server.shutdown();
    await close();
  }
});
