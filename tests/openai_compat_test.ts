/**
 * The OpenAI-compatible endpoint driven by the official `openai` package,
 * unmodified, against a real listening server: completions, streams, the
 * model list, typed errors and aborts.
 */
import assert from "node:assert/strict";
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError,
} from "openai";
import { startServer } from "../src/server.ts";
import { eventually, startAppWithMock } from "./support/chat.ts";
import { socketJson, startTestApp, type TestApp } from "./support/harness.ts";
import { createChatbot, putDetails } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";
import { parseSse } from "./support/sse.ts";

function client(port: number, apiKey: string): OpenAI {
  return new OpenAI({
    baseURL: `http://127.0.0.1:${port}/openai/v1`,
    apiKey,
    // Retries would hide what the first answer was.
    maxRetries: 0,
  });
}

async function usageRows(h: TestApp, userId: string) {
  return await h.services.sql<
    { model: string; status: string; input_tokens: number; output_tokens: number }[]
  >`select model, status, input_tokens, output_tokens from usage_records
    where user_id = ${userId} order by occurred_at, id`;
}

Deno.test("openai SDK: completion, stream with usage, model list on echo", async (t) => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const { key } = await createKey(h, user);
    const openai = client(server.port, key);

    await t.step(
      "first gatehouse/speed query on a fresh instance takes the faster model",
      async () => {
        const completion = await openai.chat.completions.create({
          model: "gatehouse/speed",
          messages: [{ role: "user", content: "quick?" }],
        });
        assert.equal(completion.model, "echo-fast");
      },
    );

    await t.step("chat.completions.create answers a chat.completion", async () => {
      const { data, response } = await openai.chat.completions.create({
        model: "echo-smart",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "text", text: "hello there" }] },
        ],
        temperature: 0.2,
        top_p: 0.9,
        user: "end-user-1",
        seed: 7, // an OpenAI field Gatehouse ignores
      }).withResponse();
      assert.equal(data.object, "chat.completion");
      assert.match(data.id, /^chatcmpl-/);
      assert.equal(data.model, "echo-smart");
      assert.equal(data.choices[0]!.message.role, "assistant");
      assert.equal(data.choices[0]!.message.content, "Echo: hello there");
      assert.equal(data.choices[0]!.finish_reason, "stop");
      assert.ok(data.usage!.prompt_tokens > 0 && data.usage!.completion_tokens > 0);
      assert.equal(
        data.usage!.total_tokens,
        data.usage!.prompt_tokens + data.usage!.completion_tokens,
      );
      assert.ok(response.headers.get("x-request-id"));
      assert.ok(response.headers.get("x-ratelimit-remaining"));
      assert.equal(response.headers.get("x-gatehouse-conversation-id"), null, "not stored");
    });

    await t.step(
      "max_tokens and max_completion_tokens cut the answer (finish length)",
      async () => {
        for (const limit of [{ max_tokens: 2 }, { max_completion_tokens: 2 }]) {
          const completion = await openai.chat.completions.create({
            model: "echo-fast",
            messages: [{ role: "user", content: "a fairly long question to cut" }],
            ...limit,
          });
          assert.equal(completion.choices[0]!.finish_reason, "length");
          assert.equal(completion.choices[0]!.message.content, "Echo: a ");
        }
      },
    );

    await t.step("stream with include_usage: chunks, a usage chunk, then the end", async () => {
      const stream = await openai.chat.completions.create({
        model: "gatehouse/balanced",
        messages: [{ role: "user", content: "stream this please" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      const finishes: (string | null)[] = [];
      let usage: OpenAI.CompletionUsage | null | undefined;
      let models = new Set<string>();
      for await (const chunk of stream) {
        assert.equal(chunk.object, "chat.completion.chunk");
        models = models.add(chunk.model);
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices) {
          text += choice.delta.content ?? "";
          finishes.push(choice.finish_reason);
        }
      }
      assert.equal(text, "Echo: stream this please");
      assert.equal(finishes.at(-1), "stop");
      assert.deepEqual([...models], ["echo-smart"]);
      assert.ok(usage && usage.completion_tokens > 0 && usage.prompt_tokens > 0);
    });

    await t.step("a stream without include_usage has no usage chunk", async () => {
      const res = await socketJson(`http://127.0.0.1:${server.port}`)(
        "POST",
        "/openai/v1/chat/completions",
        { model: "echo-fast", messages: [{ role: "user", content: "hi" }], stream: true },
        { token: key },
      );
      assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
      const { events } = parseSse(await res.text());
      assert.equal(events.at(-1)?.data, "[DONE]");
      const chunks = events.slice(0, -1).map((e) => e.data as { choices: unknown[] });
      assert.ok(chunks.every((c) => c.choices.length === 1 && !("usage" in c)));
    });

    await t.step("models.list: configured models and the routing aliases", async () => {
      const ids: string[] = [];
      for await (const model of openai.models.list()) {
        assert.equal(model.object, "model");
        ids.push(model.id);
      }
      assert.deepEqual(ids, ["echo-smart", "echo-fast", "gatehouse/speed", "gatehouse/balanced"]);
    });

    await t.step("usage rows are written; nothing stored as a conversation", async () => {
      const rows = await usageRows(h, user.id);
      assert.ok(rows.length >= 5);
      assert.ok(rows.every((r) => r.status === "complete"));
      const [row] = await h.services.sql<{ count: number }[]>`
        select count(*)::int as count from conversations where user_id = ${user.id}`;
      assert.equal(row!.count, 0);
    });

    await t.step("store: true stores the exchange as a conversation", async () => {
      const { data, response } = await openai.chat.completions.create({
        model: "echo-fast",
        messages: [
          { role: "user", content: "first" },
          { role: "assistant", content: "Echo: first" },
          { role: "user", content: "second" },
        ],
        store: true,
      }).withResponse();
      assert.equal(data.choices[0]!.message.content, "Echo: second");
      const conversationId = response.headers.get("x-gatehouse-conversation-id")!;
      const rows = await h.services.sql<{ role: string; content: string; status: string }[]>`
        select role, content, status from messages
        where conversation_id = ${conversationId} order by seq`;
      assert.deepEqual(rows.map((r) => [r.role, r.content, r.status]), [
        ["user", "second", "complete"],
        ["assistant", "Echo: second", "complete"],
      ]);
    });

    await t.step("metrics count the model calls", async () => {
      const text = await h.services.metrics.render();
      assert.match(text, /gatehouse_model_calls_total\{model="echo-fast",status="complete"\} \d+/);
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});

Deno.test("openai SDK: errors surface as the SDK's typed errors", async (t) => {
  const h = await startTestApp({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 12, per_day: 1000 } }),
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const ask = (openai: OpenAI, extra: Record<string, unknown> = {}) =>
    openai.chat.completions.create({
      model: "echo-fast",
      messages: [{ role: "user", content: "hi" }],
      ...extra,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  try {
    const user = await registerUser(h);

    await t.step("401 AuthenticationError, code invalid_api_key", async () => {
      const bad = client(server.port, "gate_notarealkeynotarealkeynotarealkey0000");
      const error = await ask(bad).catch((e) => e);
      assert.ok(error instanceof AuthenticationError, String(error));
      assert.equal(error.status, 401);
      assert.equal(error.code, "invalid_api_key");
      assert.equal(error.type, "invalid_request_error");
      assert.ok(error.requestID);
      assert.match(error.headers!.get("www-authenticate")!, /^Bearer/);
      const list = await bad.models.list().catch((e) => e);
      assert.ok(list instanceof AuthenticationError);
    });

    const chatOnly = await createKey(h, user, { name: "chat only", scopes: ["chat"] });
    await t.step("403 PermissionDeniedError without the query scope", async () => {
      const error = await ask(client(server.port, chatOnly.key)).catch((e) => e);
      assert.ok(error instanceof PermissionDeniedError, String(error));
      assert.equal(error.code, "forbidden");
      assert.match(error.message, /query/);
    });

    const { key } = await createKey(h, user);
    const openai = client(server.port, key);
    await t.step("400 BadRequestError for n other than 1", async () => {
      for (const n of [2, 0, 500]) {
        const error = await ask(openai, { n }).catch((e) => e);
        assert.ok(error instanceof BadRequestError, String(error));
        assert.equal(error.param, "n");
        assert.equal(error.type, "invalid_request_error");
      }
      assert.equal((await ask(openai, { n: 1 })).choices.length, 1);
    });

    await t.step("404 NotFoundError for an unknown model; 422 for a bad field", async () => {
      const missing = await ask(openai, { model: "gpt-4o" }).catch((e) => e);
      assert.ok(missing instanceof NotFoundError, String(missing));
      assert.equal(missing.code, "model_not_found");
      assert.equal(missing.param, "model");
      const invalid = await ask(openai, { temperature: 7 }).catch((e) => e);
      assert.ok(invalid instanceof UnprocessableEntityError, String(invalid));
      assert.equal(invalid.param, "temperature");
    });

    await t.step("unknown routes under the prefix answer in OpenAI's shape", async () => {
      const res = await h.request("/openai/v1/embeddings", { method: "GET" });
      assert.equal(res.status, 404);
      const body = await res.json();
      assert.equal(body.error.code, "not_found");
      assert.equal(typeof body.error.message, "string");
      assert.ok("param" in body.error && "type" in body.error);
    });

    await t.step("429 RateLimitError with Retry-After and the rate-limit headers", async () => {
      let error: unknown;
      for (let i = 0; i < 20 && !error; i++) {
        await ask(openai).catch((e) => (error = e));
      }
      assert.ok(error instanceof RateLimitError, String(error));
      assert.equal(error.code, "rate_limit_exceeded");
      assert.ok(Number(error.headers!.get("retry-after")) >= 1);
      assert.equal(error.headers!.get("x-ratelimit-remaining"), "0");
      assert.ok(error.headers!.get("ratelimit-policy"));
      assert.ok(error.requestID);
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});

Deno.test("openai SDK: chatbot context first, abort reaches upstream", async (t) => {
  const { h, mock, close } = await startAppWithMock({
    "m-main": { reply: "Bonjour from the mock" },
    "m-slow": { reply: Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 40 },
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    await putDetails(h, user, { profile: { plan: "Globex gold" }, preferences: {} });
    const bot = await createChatbot(h, user, {
      name: "Support",
      system_prompt: "You are Acme support.",
      context_fields: ["plan"],
      models: ["m-main"],
    });
    const { key } = await createKey(h, user);

    await t.step("X-Gatehouse-Chatbot: system prompt and context go first, stored", async () => {
      const openai = new OpenAI({
        baseURL: `http://127.0.0.1:${server.port}/openai/v1`,
        apiKey: key,
        maxRetries: 0,
        defaultHeaders: { "X-Gatehouse-Chatbot": bot.id },
      });
      const { data, response } = await openai.chat.completions.create({
        model: "gatehouse/chatbot",
        messages: [
          { role: "developer", content: "Answer in French." },
          { role: "user", content: "Salut" },
        ],
      }).withResponse();
      assert.equal(data.choices[0]!.message.content, "Bonjour from the mock");
      const sent = mock.requestsFor("m-main").at(-1)!.body!.messages as {
        role: string;
        content: string;
      }[];
      assert.equal(sent[0]!.role, "system");
      assert.match(sent[0]!.content, /^You are Acme support\./);
      assert.match(sent[0]!.content, /Globex/, "the user context the chatbot may see");
      assert.deepEqual(sent.slice(1), [
        { role: "system", content: "Answer in French." },
        { role: "user", content: "Salut" },
      ]);
      const conversationId = response.headers.get("x-gatehouse-conversation-id");
      const [row] = await h.services.sql<{ chatbot_id: string }[]>`
        select chatbot_id from conversations where id = ${conversationId}`;
      assert.equal(row!.chatbot_id, bot.id);
    });

    await t.step("a chatbot-bound key uses its chatbot whatever the model", async () => {
      const bound = await createKey(h, user, { name: "bound", chatbot_id: bot.id });
      const openai = client(server.port, bound.key);
      await openai.chat.completions.create({
        model: "gatehouse/balanced",
        messages: [{ role: "user", content: "hello" }],
      });
      const sent = mock.requestsFor("m-main").at(-1)!.body!.messages as { content: string }[];
      assert.match(sent[0]!.content, /^You are Acme support\./);
      const ids = (await openai.models.list()).data.map((m) => m.id);
      assert.ok(ids.includes("gatehouse/chatbot"));
      // Another chatbot is out of a bound key's reach.
      const other = await createChatbot(h, user, { name: "Other" });
      const error = await openai.chat.completions.create({
        model: "gatehouse/chatbot",
        messages: [{ role: "user", content: "hello" }],
      }, { headers: { "X-Gatehouse-Chatbot": other.id } }).catch((e) => e);
      assert.ok(error instanceof NotFoundError, String(error));
    });

    await t.step("gatehouse/chatbot without a chatbot is a 400", async () => {
      const error = await client(server.port, key).chat.completions.create({
        model: "gatehouse/chatbot",
        messages: [{ role: "user", content: "hello" }],
      }).catch((e) => e);
      assert.ok(error instanceof BadRequestError, String(error));
      assert.equal(error.param, "model");
    });

    await t.step("aborting a stream aborts upstream; stored incomplete with usage", async () => {
      const controller = new AbortController();
      const { data: stream, response } = await client(server.port, key).chat.completions.create(
        {
          model: "m-slow",
          messages: [{ role: "user", content: "tell me everything" }],
          stream: true,
          store: true,
        },
        { signal: controller.signal },
      ).withResponse();
      const conversationId = response.headers.get("x-gatehouse-conversation-id")!;
      let chunks = 0;
      const error = await (async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content && ++chunks === 3) controller.abort();
        }
      })().catch((e) => e);
      assert.ok(error === undefined || error instanceof APIError || error.name === "AbortError");
      const upstream = mock.requestsFor("m-slow")[0]!;
      assert.equal(await upstream.settled, "aborted");
      const stored = await eventually(async () => {
        const rows = await h.services.sql<{ status: string; content: string }[]>`
          select status, content from messages
          where conversation_id = ${conversationId} and role = 'assistant'`;
        // The answer is written `pending` before the call and completed after it.
        return rows.length === 1 && rows[0]!.status !== "pending" ? rows[0] : undefined;
      });
      assert.equal(stored.status, "incomplete");
      assert.ok(stored.content.startsWith("w0 w1"));
      const usage = (await usageRows(h, user.id)).filter((r) => r.model === "m-slow");
      assert.equal(usage.length, 1);
      assert.equal(usage[0]!.status, "incomplete");
      assert.ok(usage[0]!.output_tokens > 0);
    });
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("openai SDK: concurrent answers per user are capped like query's", async () => {
  const { h, mock, close } = await startAppWithMock(
    { "m-hang": { hang: true }, "m-ok": {} },
    { MAX_CONCURRENT_QUERIES_PER_USER: "1", MAX_STREAMS_PER_PRINCIPAL: "1" },
  );
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const { key } = await createKey(h, user);
    const openai = client(server.port, key);
    const messages = [{ role: "user" as const, content: "hi" }];
    for (const stream of [false, true]) {
      const controller = new AbortController();
      const held = openai.chat.completions.create(
        { model: "m-hang", messages, stream },
        { signal: controller.signal },
      ).catch((e) => e);
      await mock.waitForRequests(mock.requests.length + 1);
      const error = await openai.chat.completions.create({ model: "m-ok", messages, stream })
        .catch((e) => e);
      assert.ok(error instanceof RateLimitError, String(error));
      assert.equal(
        (error.error as { detail?: { policy?: string } } | undefined)?.detail?.policy,
        stream ? "concurrent_streams" : "concurrent_queries",
      );
      controller.abort();
      await held;
    }
  } finally {
    await server.shutdown();
    await close();
  }
});
