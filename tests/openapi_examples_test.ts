/**
 * "Try it out" works out of the box: every operation is described, every request
 * body has an example, and each example succeeds on a fresh embedded instance
 * (values that can only come from an earlier answer, such as a refresh token or
 * a consent request id, are the only ones filled in).
 */
import assert from "node:assert/strict";
import type { z } from "@hono/zod-openapi";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { parseSse } from "./support/sse.ts";

type Json = Record<string, unknown>;
interface Operation {
  method: string;
  path: string;
  operationId: string;
  description?: string;
  summary?: string;
  parameters?: {
    name: string;
    in: string;
    required?: boolean;
    example?: unknown;
    schema?: Json;
  }[];
  requestBody?: { content: Record<string, { example?: unknown }> };
}

function operationsOf(doc: { paths: Record<string, Record<string, Json>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, ...op } as Operation))
  );
}

Deno.test("OpenAPI: every operation has a description and a request example", async (t) => {
  const h = await startTestApp();
  try {
    const doc = await (await h.request("/openapi.json")).json();
    const ops = operationsOf(doc);
    assert.ok(ops.length > 30);

    await t.step("every operation has a summary and a description", () => {
      const missing = ops.filter((op) => !op.summary || !op.description).map((op) =>
        op.operationId
      );
      assert.deepEqual(missing, []);
    });

    await t.step("every request body has an example", () => {
      const missing = ops.filter((op) =>
        op.requestBody && op.requestBody.content["application/json"]?.example === undefined
      ).map((op) => op.operationId);
      assert.deepEqual(missing, []);
    });

    await t.step("every parameter has an example or a default (optional ids left out)", () => {
      const missing = ops.flatMap((op) =>
        (op.parameters ?? []).filter((p) =>
          // An optional id prefilled by "Try it out" would only ever be a 404.
          !(p.required !== true && p.schema?.format === "uuid") &&
          p.example === undefined && p.schema?.example === undefined &&
          p.schema?.default === undefined && p.schema?.enum === undefined
        ).map((p) => `${op.operationId}.${p.name}`)
      );
      assert.deepEqual(missing, []);
    });

    await t.step("every success answer with a body has an example, in each media type", () => {
      const missing: string[] = [];
      let checked = 0;
      for (const op of ops) {
        const responses = (op as unknown as Json).responses as Record<string, Json>;
        for (const [status, response] of Object.entries(responses)) {
          if (!status.startsWith("2")) continue;
          for (const [type, media] of Object.entries((response.content ?? {}) as Json)) {
            checked++;
            if ((media as Json).example === undefined) {
              missing.push(`${op.operationId} ${status} ${type}`);
            }
          }
        }
      }
      assert.ok(checked > 40, `only ${checked} success bodies found`);
      assert.deepEqual(missing, []);
    });

    await t.step("no nullable $ref is emitted as allOf (which admits no null)", () => {
      const bad: string[] = [];
      const walk = (node: unknown, where: string) => {
        if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`));
        if (!node || typeof node !== "object") return;
        const allOf = (node as Json).allOf as Json[] | undefined;
        if (
          allOf?.some((s) => [s.type].flat().includes("null"))
        ) bad.push(where);
        for (const [key, value] of Object.entries(node)) walk(value, `${where}/${key}`);
      };
      walk(doc, "#");
      assert.deepEqual(bad, []);
      const usage = doc.components.schemas.ConversationMessage.properties.usage;
      assert.deepEqual(usage.anyOf, [{ $ref: "#/components/schemas/TokenUsage" }, {
        type: "null",
      }]);
    });
  } finally {
    await h.close();
  }
});

/** Every string anywhere in `value`. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (!value || typeof value !== "object") return [];
  return Object.values(value).flatMap(stringsIn);
}

Deno.test("OpenAPI: every response example is what the route's own schema answers", async (t) => {
  const h = await startTestApp();
  try {
    // The zod schemas the routes validate and type their answers with (not the emitted JSON
    // Schema that Spectral checks): they also hold refinements, and a key an example adds
    // that the schema does not know is dropped by parsing, which JSON Schema (open objects)
    // lets through.
    type Media = { schema?: z.ZodType; example?: unknown };
    const routes = h.app.openAPIRegistry.definitions.flatMap((d) =>
      d.type === "route" ? [d.route] : []
    );
    const examples = routes.flatMap((route) =>
      Object.entries(route.responses).flatMap(([status, response]) =>
        Object.entries(("content" in response ? response.content : undefined) ?? {}).map((
          [type, media],
        ) => ({
          where: `${route.operationId} ${status} ${type}`,
          json: (route.responses[status] as { content: Record<string, Media> }).content[
            "application/json"
          ]?.example,
          ...(media as Media),
        }))
      )
    ).filter((e) => e.example !== undefined);
    assert.ok(examples.length > 40, `only ${examples.length} examples found`);

    await t.step("each JSON example parses with the route's schema, unchanged", () => {
      const bad: string[] = [];
      for (const e of examples.filter((e) => e.where.endsWith("application/json"))) {
        const parsed = (e.schema as z.ZodType).safeParse(e.example);
        if (!parsed.success) bad.push(`${e.where}: ${parsed.error.message}`);
        else {
          try {
            assert.deepEqual(parsed.data, e.example);
          } catch {
            bad.push(`${e.where}: has keys or values the schema drops or changes`);
          }
        }
      }
      assert.deepEqual(bad, []);
    });

    await t.step("each event-stream example streams the operation's JSON example", () => {
      const streams = examples.filter((e) => e.where.endsWith("text/event-stream"));
      assert.equal(streams.length, 4);
      for (const e of streams) {
        const { events } = parseSse(e.example as string);
        const json = e.json as Json;
        assert.ok(json, `${e.where}: no JSON example to compare with`);
        if (events.every(({ event }) => event === "message")) {
          // OpenAI's chunks: a role chunk, content deltas, the finish, usage, [DONE].
          assert.equal(events.at(-1)?.data, "[DONE]", e.where);
          const chunks = events.slice(0, -1).map(({ data }) => data as Json);
          const choice = (json.choices as Json[])[0]!;
          const deltas = chunks.flatMap((c) => c.choices as { delta: { content?: string } }[])
            .map((c) => c.delta.content ?? "").join("");
          assert.equal(deltas, (choice.message as Json).content, e.where);
          assert.deepEqual(chunks.at(-1)?.usage, json.usage, e.where);
          for (const c of chunks) assert.equal(c.id, json.id, e.where);
          continue;
        }
        // Gatehouse's events: meta, chunks, usage, then done with the JSON body.
        assert.deepEqual(events.map(({ event }) => event).filter((v, i, a) => a[i - 1] !== v), [
          "meta",
          "chunk",
          "usage",
          "done",
        ], e.where);
        assert.deepEqual(events.at(-1)?.data, json, `${e.where}: done is not the JSON example`);
        const meta = events[0]!.data as Json;
        assert.equal(meta.conversation_id, json.conversation_id, e.where);
        const text = events.filter(({ event }) => event === "chunk")
          .map(({ data }) => (data as { delta: string }).delta).join("");
        assert.ok(stringsIn(json).includes(text), `${e.where}: chunks do not spell the answer`);
        // The per-model `usage` events add up to the answer's total usage.
        const perModel = events.filter(({ event }) => event === "usage").map(({ data }) =>
          data as { usage: { input_tokens: number; output_tokens: number }; cost_usd: number }
        );
        const sum = (f: (u: (typeof perModel)[number]) => number) =>
          Math.round(perModel.reduce((total, u) => total + f(u), 0) * 1e9) / 1e9;
        assert.deepEqual(
          {
            input_tokens: sum((u) => u.usage.input_tokens),
            output_tokens: sum((u) => u.usage.output_tokens),
            cost_usd: sum((u) => u.cost_usd),
          },
          json.usage,
          `${e.where}: usage events do not add up to usage`,
        );
      }
    });
  } finally {
    await h.close();
  }
});

Deno.test("OpenAPI: each request example succeeds on a fresh embedded instance", async (t) => {
  const h = await startTestApp({ WEBHOOK_ALLOW_PRIVATE: "true" });
  try {
    const doc = await (await h.request("/openapi.json")).json();
    const ops = new Map(operationsOf(doc).map((op) => [op.operationId, op]));
    const exampleOf = (id: string) => {
      const op = ops.get(id);
      assert.ok(op, id);
      return op.requestBody!.content["application/json"]!.example as Json;
    };
    const run = async (
      id: string,
      params: Record<string, string> = {},
      token?: string,
      override: Json = {},
    ) => {
      const op = ops.get(id)!;
      const path = op.path.replace(/\{(\w+)\}/g, (_, name) => params[name]!);
      const res = await h.json(op.method.toUpperCase(), path, {
        ...exampleOf(id),
        ...override,
      }, { token, ip: "198.51.100.200" });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const checked = new Set<string>();
    const expect = async (
      id: string,
      status: number,
      call: Promise<{ status: number; body: Json | null }>,
    ) => {
      const res = await call;
      assert.equal(res.status, status, `${id}: ${JSON.stringify(res.body)}`);
      checked.add(id);
      return res.body!;
    };

    let token = "";
    let refresh = "";
    let userId = "";
    await t.step("register, login and refresh with the examples", async () => {
      const reg = await expect("register", 201, run("register"));
      userId = (reg.user as Json).id as string;
      const login = await expect("login", 200, run("login"));
      token = login.access_token as string;
      // The refresh token is a secret of an earlier answer: the only value filled in.
      const next = await expect(
        "refreshToken",
        200,
        run("refreshToken", {}, undefined, { refresh_token: login.refresh_token }),
      );
      token = next.access_token as string;
      refresh = next.refresh_token as string;
      assert.ok(refresh);
    });

    let chatbotId = "";
    await t.step("profile, chatbots, queries and chat with the examples", async () => {
      await expect("putUserDetails", 200, run("putUserDetails", { user_id: userId }, token));
      await expect("updateUser", 200, run("updateUser", { user_id: userId }, token));
      const bot = await expect("createChatbot", 201, run("createChatbot", {}, token));
      chatbotId = bot.id as string;
      await expect("updateChatbot", 200, run("updateChatbot", { chatbot_id: chatbotId }, token));
      await expect("query", 200, run("query", {}, token));
      await expect("queryChatbot", 200, run("queryChatbot", { chatbot_id: chatbotId }, token));
      await expect("sendChatMessage", 200, run("sendChatMessage", {}, token));
      const completion = await expect(
        "createChatCompletion",
        200,
        run("createChatCompletion", {}, token),
      );
      assert.equal(completion.object, "chat.completion");
    });

    await t.step("API keys with the examples", async () => {
      const key = await expect("createApiKey", 201, run("createApiKey", {}, token));
      await expect("rollApiKey", 200, run("rollApiKey", { key_id: key.id as string }, token));
      const updated = await expect(
        "updateApiKey",
        200,
        run("updateApiKey", { key_id: key.id as string }, token),
      );
      assert.equal(updated.budget_usd_per_day, 2.5);
    });

    await t.step("respondToConsent with the example (the request id from an answer)", async () => {
      const res = await h.json("POST", "/v1/chatbots", {
        name: "Consenting bot",
        context_fields: ["company"],
        require_consent: true,
      }, { token });
      const bot = await res.json();
      const asked = await h.json("POST", `/v1/chatbots/${bot.id}/query`, { message: "hi" }, {
        token,
      });
      const consent = (await asked.json()).requires_consent;
      assert.ok(consent?.consent_request_id);
      await expect(
        "respondToConsent",
        200,
        run("respondToConsent", {}, token, { consent_request_id: consent.consent_request_id }),
      );
    });

    await t.step("webhooks with the examples (their URL must resolve: online only)", async () => {
      // The example URL's host must resolve to a public address; offline, the one refusal
      // allowed is exactly that, so the example is otherwise valid.
      const created = await run("createWebhook", {}, token);
      if (created.status === 201) {
        checked.add("createWebhook");
        await expect(
          "updateWebhook",
          200,
          run("updateWebhook", { webhook_id: created.body!.id as string }, token),
        );
        return;
      }
      assert.equal(created.status, 422, JSON.stringify(created.body));
      assert.match(JSON.stringify(created.body), /does not resolve/);
      checked.add("createWebhook");
      // This app allows private destinations, so a literal loopback address is accepted.
      const res = await h.json("POST", "/v1/webhooks", {
        url: "https://127.0.0.1/hook",
        events: ["quota.threshold"],
      }, { token });
      assert.equal(res.status, 201);
      const hook = await res.json();
      await expect("updateWebhook", 200, run("updateWebhook", { webhook_id: hook.id }, token));
    });

    await t.step("changePassword and logout with the examples", async () => {
      await expect("changePassword", 204, run("changePassword", {}, token));
      const again = await h.json("POST", "/v1/auth/login", {
        email: exampleOf("login").email,
        password: exampleOf("changePassword").new_password,
      }, { ip: "198.51.100.200" });
      assert.equal(again.status, 200);
      await expect("logout", 204, run("logout", {}, (await again.json()).access_token));
    });

    await t.step("every operation with a request body was run", () => {
      const withBody = [...ops.values()].filter((op) => op.requestBody).map((op) => op.operationId);
      assert.deepEqual(withBody.filter((id) => !checked.has(id)).sort(), []);
    });
  } finally {
    await h.close();
  }
});

export type { TestApp };
