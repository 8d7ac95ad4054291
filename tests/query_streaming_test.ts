import assert from "node:assert/strict";
import { startServer } from "../src/server.ts";
import { eventually, startAppWithMock } from "./support/chat.ts";
import { parseSse, readThenAbort, sseEvents } from "./support/sse.ts";
import { socketJson, startTestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";

const SLOW_REPLY = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");

Deno.test("query streaming: SSE over the echo models", async (t) => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h);

    await t.step("stream: true answers meta, chunks, usage, done", async () => {
      const res = await h.json("POST", "/v1/query", {
        prompt: "stream me please",
        mode: "quality",
        stream: true,
      }, { token: user.accessToken });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
      assert.ok(res.headers.get("x-ratelimit-remaining"), "rate-limit headers stay on SSE");
      assert.ok(res.headers.get("ratelimit-policy"));
      assert.ok(res.headers.get("x-request-id"));
      const { events } = parseSse(await res.text());
      const names = events.map((e) => e.event);
      assert.equal(names[0], "meta");
      assert.equal(names.at(-1), "done");
      assert.deepEqual(names.filter((n) => n === "usage").length, 2, "one usage per model");
      const meta = events[0]!.data as { id: string; conversation_id: string; models: string[] };
      assert.deepEqual(meta.models, ["echo-smart", "echo-fast"]);
      const chunks = events.filter((e) => e.event === "chunk").map((e) =>
        e.data as { model: string; delta: string }
      );
      const smart = chunks.filter((c) => c.model === "echo-smart").map((c) => c.delta).join("");
      assert.equal(smart, "Echo: stream me please");
      const usage = events.find((e) => e.event === "usage")!.data as Record<string, unknown>;
      assert.ok("latency_ms" in usage && "cost_usd" in usage && "usage" in usage);
      const done = events.at(-1)!.data as { id: string; conversation_id: string; selected: number };
      assert.equal(done.id, meta.id);
      assert.equal(done.conversation_id, meta.conversation_id);
      assert.equal(done.selected, 0);
    });

    await t.step("Accept: text/event-stream streams without the flag", async () => {
      const res = await h.json("POST", "/v1/query", { prompt: "by header", mode: "speed" }, {
        token: user.accessToken,
        headers: { accept: "text/event-stream" },
      });
      assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
      const { events } = parseSse(await res.text());
      assert.deepEqual(
        [events[0]!.event, events.at(-1)!.event],
        ["meta", "done"],
      );
    });

    await t.step("sendChatMessage streams the same events", async () => {
      const res = await h.json("POST", "/v1/chat/messages", { message: "hi", stream: true }, {
        token: user.accessToken,
      });
      const { events } = parseSse(await res.text());
      assert.equal(events[0]!.event, "meta");
      const done = events.at(-1)!;
      assert.equal(done.event, "done");
      const body = done.data as Record<string, unknown>;
      assert.equal(body.content, "Echo: hi");
      assert.deepEqual(body.tool_calls, []);
      assert.deepEqual(body.results, []);
      assert.ok(body.message_id);
    });

    await t.step("validation errors come before the stream, as JSON", async () => {
      const res = await h.json("POST", "/v1/query", {
        prompt: "x",
        mode: "quality",
        models: ["nope"],
        stream: true,
      }, { token: user.accessToken });
      assert.equal(res.status, 422);
      assert.match(res.headers.get("content-type")!, /application\/json/);
      await res.body?.cancel();
    });
  } finally {
    await h.close();
  }
});

Deno.test("query streaming: keep-alive, failures and the stream cap", async (t) => {
  const { h, close } = await startAppWithMock({
    "m-slow": { reply: "one two three", chunkDelayMs: 120 },
    "m-hang": { hang: true },
    "m-quick": { reply: "quick" },
    "m-down": { status: 500 },
  }, { MAX_STREAMS_PER_PRINCIPAL: "1" });
  try {
    const user = await registerUser(h);
    const stream = (body: Record<string, unknown>) =>
      h.json("POST", "/v1/query", { mode: "balanced", stream: true, ...body }, {
        token: user.accessToken,
      });

    await t.step("silences are filled with keep-alive comments", async () => {
      h.services.chat.keepAliveMs = 30;
      try {
        const res = await stream({ prompt: "slowly", models: ["m-slow"] });
        const { events, comments } = parseSse(await res.text());
        assert.ok(comments.includes("keep-alive"), `comments: ${comments}`);
        assert.equal(events.at(-1)!.event, "done");
      } finally {
        h.services.chat.keepAliveMs = 15_000;
      }
    });

    await t.step("every model failing ends the stream with an error event", async () => {
      const res = await stream({ prompt: "doomed", models: ["m-down"] });
      assert.equal(res.status, 200);
      const { events } = parseSse(await res.text());
      assert.deepEqual(events.map((e) => e.event), ["meta", "error"]);
      const error = events[1]!.data as { error: string; message: string };
      assert.equal(error.error, "service_unavailable");
      assert.ok(error.message);
    });

    await t.step("a second concurrent stream is 429 rate_limited", async () => {
      const first = await stream({ prompt: "hold the line", models: ["m-hang"] });
      assert.equal(first.status, 200);
      const second = await stream({ prompt: "me too", models: ["m-quick"] });
      assert.equal(second.status, 429);
      assert.equal(second.headers.get("retry-after"), "1");
      const body = await second.json();
      assert.equal(body.error, "rate_limited");
      assert.equal(body.detail.policy, "concurrent_streams");
      // A non-streaming request is not a stream.
      const plain = await h.json("POST", "/v1/query", {
        prompt: "plain",
        mode: "balanced",
        models: ["m-quick"],
      }, { token: user.accessToken });
      assert.equal(plain.status, 200);
      await plain.body?.cancel();
      // Leaving frees the slot.
      await first.body!.cancel();
      const third = await eventually(async () => {
        const res = await stream({ prompt: "now?", models: ["m-quick"] });
        if (res.status === 200) return res;
        await res.body?.cancel();
      });
      const { events } = parseSse(await third.text());
      assert.equal(events.at(-1)!.event, "done");
    });
  } finally {
    await close();
  }
});

Deno.test("query streaming: a client disconnect aborts upstream and stores incomplete", async () => {
  const { h, mock, close } = await startAppWithMock({
    "m-slow": { reply: SLOW_REPLY, chunkDelayMs: 40 },
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const controller = new AbortController();
    const res = await socketJson(`http://127.0.0.1:${server.port}`)("POST", "/v1/query", {
      prompt: "tell me a long story",
      mode: "balanced",
      stream: true,
    }, { token: user.accessToken, signal: controller.signal });
    assert.equal(res.status, 200);
    const events = await readThenAbort(res, controller, 3);
    assert.equal(events[0]?.event, "meta");
    const conversationId = (events[0]!.data as { conversation_id: string }).conversation_id;
    const upstream = mock.requestsFor("m-slow")[0]!;
    assert.equal(await upstream.settled, "aborted", "the mock server saw the disconnect");
    assert.ok(upstream.chunksSent < 40);

    const stored = await eventually(async () => {
      const rows = await h.services.sql<{ role: string; status: string; content: string }[]>`
        select role, status, content from messages
        where conversation_id = ${conversationId} order by seq`;
      return rows.length === 2 && rows[1]!.status !== "pending" ? rows : undefined;
    });
    assert.equal(stored[0]!.role, "user");
    assert.equal(stored[1]!.status, "incomplete");
    assert.ok(stored[1]!.content.startsWith("word0 word1"));
    const [usage] = await h.services.sql<{ status: string; output_tokens: number }[]>`
      select status, output_tokens from usage_records where conversation_id = ${conversationId}`;
    assert.equal(usage!.status, "incomplete");
    assert.ok(usage!.output_tokens > 0, "what was generated is accounted");
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("query streaming: shutdown ends open streams with an error event", async () => {
  const { h, close } = await startAppWithMock({
    "m-slow": { reply: SLOW_REPLY, chunkDelayMs: 40 },
  });
  try {
    const user = await registerUser(h);
    const res = await h.json("POST", "/v1/query", {
      prompt: "until shutdown",
      mode: "balanced",
      stream: true,
    }, { token: user.accessToken });
    const names: string[] = [];
    let last: unknown;
    const started = Date.now();
    for await (const event of sseEvents(res.body!)) {
      names.push(event.event);
      last = event.data;
      if (event.event === "chunk" && names.filter((n) => n === "chunk").length === 2) {
        h.services.lifecycle.beginDrain();
      }
    }
    assert.ok(Date.now() - started < 1500, "closed promptly, not after the whole reply");
    assert.equal(names.at(-1), "error");
    assert.equal((last as { error: string }).error, "service_unavailable");
    const [row] = await h.services.sql<{ status: string }[]>`
      select status from messages where role = 'assistant'`;
    assert.equal(row!.status, "incomplete");
  } finally {
    await close();
  }
});
