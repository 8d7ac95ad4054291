/**
 * A whole user journey through the generated client only, over real HTTP.
 * The first step also regenerates the client's types from the live
 * /openapi.json: a route change that the committed client does not reflect
 * fails here, and a breaking one fails type-checking of this file.
 */
import assert from "node:assert/strict";
import { example } from "../clients/typescript/example.ts";
import {
  createGatehouseClient,
  queryChatbotJson,
  queryJson,
  queryStream,
  sendChatMessageJson,
  sendChatMessageStream,
} from "../clients/typescript/mod.ts";
import { generateSchemaTypes, SCHEMA_FILE } from "../scripts/client_codegen.ts";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";
import { parseSse } from "./support/sse.ts";

/** Streaming operations declare JSON and SSE bodies; a JSON call gets the object. */
function json<T>(data: T | string | undefined): T {
  assert.ok(data !== undefined && typeof data !== "string", "expected a JSON body");
  return data as T;
}

/** The journey, against `baseUrl` (the service, or a validating proxy in front of it). */
async function journey(t: Deno.TestContext, baseUrl: string): Promise<void> {
  {
    const gh = createGatehouseClient(baseUrl);
    const email = `journey-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "tidal-marble-compass";
    let refreshToken = "";
    let chatbotId = "";
    let conversationId = "";

    await t.step("register, login, refresh", async () => {
      const reg = await gh.POST("/v1/auth/register", {
        body: { email, password, display_name: "Journey" },
      });
      assert.equal(reg.response.status, 201);
      assert.equal(reg.data?.user.email, email);
      const login = await gh.POST("/v1/auth/login", { body: { email, password } });
      assert.equal(login.response.status, 200);
      const refreshed = await gh.POST("/v1/auth/refresh", {
        body: { refresh_token: login.data!.refresh_token },
      });
      assert.equal(refreshed.response.status, 200);
      refreshToken = refreshed.data!.refresh_token;
      gh.setToken(refreshed.data!.access_token);
      const bad = await gh.POST("/v1/auth/login", {
        body: { email, password: "not-the-password" },
      });
      assert.equal(bad.response.status, 401);
      assert.equal(bad.error?.error, "unauthorized");
    });

    await t.step("create a chatbot and set details", async () => {
      const me = await gh.GET("/v1/auth/me");
      const userId = me.data!.id;
      const details = await gh.PUT("/v1/users/{user_id}/details", {
        params: { path: { user_id: userId } },
        body: { profile: { favourite_language: "TypeScript" }, preferences: { tone: "brief" } },
      });
      assert.equal(details.response.status, 200);
      const bot = await gh.POST("/v1/chatbots", {
        body: {
          name: "Helper",
          system_prompt: "Be brief.",
          context_fields: ["display_name", "favourite_language"],
        },
      });
      assert.equal(bot.response.status, 201);
      chatbotId = bot.data!.id;
    });

    await t.step("query in every mode", async () => {
      for (const mode of ["speed", "balanced", "quality"] as const) {
        const res = await gh.POST("/v1/query", {
          body: { prompt: `hello in ${mode}`, mode, chatbot_id: chatbotId },
        });
        assert.equal(res.response.status, 200, mode);
        const body = json(res.data);
        assert.equal(body.mode, mode);
        assert.ok(body.answers.length >= 1);
        const selected = body.answers[body.selected ?? 0]!;
        assert.match(selected.content, new RegExp(`hello in ${mode}`));
        conversationId = body.conversation_id;
      }
    });

    await t.step("stream an answer", async () => {
      const res = await gh.POST("/v1/query", {
        body: { prompt: "stream me please", mode: "speed", stream: true },
        parseAs: "stream",
      });
      assert.equal(res.response.status, 200);
      assert.match(res.response.headers.get("content-type") ?? "", /text\/event-stream/);
      const body = res.data as unknown as ReadableStream<Uint8Array>;
      const { events } = parseSse(await new Response(body).text());
      assert.equal(events[0]?.event, "meta");
      assert.equal(events.at(-1)?.event, "done");
      const text = events.filter((e) => e.event === "chunk")
        .map((e) => (e.data as { delta: string }).delta).join("");
      assert.match(text, /stream me please/);
    });

    await t.step("list conversations", async () => {
      const list = await gh.GET("/v1/chat/conversations", { params: { query: { limit: 10 } } });
      assert.equal(list.response.status, 200);
      assert.ok(list.data!.items.some((c) => c.id === conversationId));
      const one = await gh.GET("/v1/chat/conversations/{conversation_id}", {
        params: { path: { conversation_id: conversationId } },
      });
      assert.ok(one.data!.messages.length >= 2);
    });

    await t.step("mint an API key and use it", async () => {
      const created = await gh.POST("/v1/api-keys", {
        body: { name: "journey key", scopes: ["query", "usage:read"] },
      });
      assert.equal(created.response.status, 201);
      const keyClient = createGatehouseClient(baseUrl, { token: created.data!.key });
      const who = await keyClient.GET("/v1/auth/whoami");
      assert.equal(who.data!.principal.type, "api_key");
      const q = await keyClient.POST("/v1/query", {
        body: { prompt: "from a key", mode: "speed" },
      });
      assert.equal(q.response.status, 200);
      const denied = await keyClient.GET("/v1/chatbots");
      assert.equal(denied.response.status, 403, "the key lacks chatbots:read");
    });

    await t.step("read usage", async () => {
      const usage = await gh.GET("/v1/usage", { params: { query: { group_by: "model" } } });
      assert.equal(usage.response.status, 200);
      const requests = usage.data!.items.reduce((sum, row) => sum + row.requests, 0);
      assert.ok(requests >= 5, `usage rows counted: ${requests}`);
    });

    await t.step("typed JSON and stream helpers of clients/typescript/mod.ts", async () => {
      const { data } = await queryJson(gh, { prompt: "typed json", mode: "speed" });
      // `data.answers` type-checks: the helper asked for JSON and says so.
      assert.match(data!.answers[0]!.content, /typed json/);
      const usage: number = data!.usage.output_tokens;
      assert.ok(usage > 0);
      const chat = await sendChatMessageJson(gh, { message: "typed chat" });
      assert.match(chat.data!.content, /typed chat/);
      const bot = await queryChatbotJson(gh, chatbotId, { message: "typed bot" });
      assert.equal(bot.data!.chatbot_id, chatbotId);
      let text = "";
      let done: string | undefined;
      for await (const e of queryStream(gh, { prompt: "typed stream", mode: "speed" })) {
        if (e.event === "chunk") text += e.data.delta;
        if (e.event === "done") done = e.data.conversation_id;
      }
      assert.match(text, /typed stream/);
      assert.ok(done);
      const events: string[] = [];
      for await (const e of sendChatMessageStream(gh, { message: "typed chat stream" })) {
        events.push(e.event);
      }
      assert.equal(events.at(-1), "done");
      const bad = await queryJson(gh, { prompt: "x", mode: "speed", models: ["nope"] });
      assert.equal(bad.response.status, 422);
      assert.equal(bad.error?.error, "validation_error");
    });

    await t.step("the README's runnable example (clients/typescript/example.ts)", async () => {
      const lines: string[] = [];
      const out = await example(baseUrl, email, password, (line) => lines.push(line));
      assert.match(out.answer, /capability-based/);
      assert.match(out.streamed, /Stream this/);
      assert.match(lines[0]!, new RegExp(`logged in as ${email}`));
    });

    await t.step("logout", async () => {
      const out = await gh.POST("/v1/auth/logout", { body: {} });
      assert.equal(out.response.status, 204);
      const after = await gh.GET("/v1/auth/whoami");
      assert.equal(after.response.status, 401);
      const refresh = await gh.POST("/v1/auth/refresh", { body: { refresh_token: refreshToken } });
      assert.equal(refresh.response.status, 401);
    });
  }
}

Deno.test("generated client: the whole journey over HTTP", async (t) => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  try {
    await t.step("the committed client matches the live /openapi.json", async () => {
      const live = await (await fetch(`${baseUrl}/openapi.json`)).json();
      const fresh = await generateSchemaTypes(live);
      const committed = await Deno.readTextFile(SCHEMA_FILE);
      assert.ok(fresh === committed, "clients/typescript is stale: run `deno task client`");
    });
    await journey(t, baseUrl);
  } finally {
    await server.shutdown();
    await h.close();
  }
});

/**
 * The same journey through Stoplight Prism as a validating proxy
 * (`prism proxy openapi.json <service> --errors`): an answer or request the
 * document does not allow becomes an error, so the document cannot drift from
 * the answers. `.ci/run` installs Prism and sets PRISM_BIN.
 */
const PRISM_BIN = Deno.env.get("PRISM_BIN");
if (!PRISM_BIN) {
  console.log(
    "client_e2e_test: the Prism run is SKIPPED because PRISM_BIN is unset (.ci/run sets it)",
  );
}

Deno.test({
  name: "generated client: the journey through a Prism validating proxy finds no violation",
  ignore: !PRISM_BIN,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const upstream = `http://127.0.0.1:${server.port}`;
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-prism-" });
  const spec = `${dir}/openapi.json`;
  await Deno.writeTextFile(spec, await (await fetch(`${upstream}/openapi.json`)).text());
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const prism = new Deno.Command(PRISM_BIN!, {
    args: ["proxy", spec, upstream, "--errors", "--host", "127.0.0.1", "--port", String(port)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output.push(chunk);
  };
  const collecting = Promise.all([collect(prism.stdout), collect(prism.stderr)]);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${baseUrl}/health/live`);
        await res.body?.cancel();
        if (res.status === 200) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`Prism did not start:\n${output.join("")}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await journey(t, baseUrl);
    const violations = output.join("").split("\n").filter((l) => /violation/i.test(l));
    assert.deepEqual(violations, [], "Prism reported violations");
  } finally {
    prism.kill("SIGTERM");
    await prism.status;
    await collecting.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await server.shutdown();
    await h.close();
  }
});
