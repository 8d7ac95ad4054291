/**
 * "Try it out" works out of the box: every operation is described, every request
 * body has an example, and each example succeeds on a fresh embedded instance
 * (values that can only come from an earlier answer, such as a refresh token or
 * a consent request id, are the only ones filled in).
 */
import assert from "node:assert/strict";
import { startTestApp, type TestApp } from "./support/harness.ts";

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

    await t.step("the operations a newcomer tries first show a response example", () => {
      const first = [
        "register",
        "login",
        "refreshToken",
        "getCurrentUser",
        "whoami",
        "query",
        "getUsage",
      ];
      const byId = new Map(ops.map((op) => [op.operationId, op as unknown as Json]));
      const missing = first.filter((id) => {
        const responses = byId.get(id)?.responses as Record<string, Json>;
        const ok = Object.entries(responses).find(([status]) => status.startsWith("2"))?.[1];
        const media = (ok?.content as Record<string, Json>)["application/json"];
        return media?.example === undefined;
      });
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
