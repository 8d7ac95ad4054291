import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("answers a client expects: login user, whoami email, usage totals and period", async (t) => {
  const h = await startTestApp();
  try {
    const ada = await registerUser(h);

    await t.step("login returns the user, like register", async () => {
      const res = await h.json("POST", "/v1/auth/login", {
        email: ada.email,
        password: ada.password,
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.user.id, ada.id);
      assert.equal(body.user.email, ada.email);
      assert.equal(body.user.role, "user");
      assert.equal(body.user.password_hash, undefined);
      assert.ok(body.access_token && body.refresh_token);
    });

    await t.step("whoami carries the email, with a token and with a key", async () => {
      const viaToken = await h.json("GET", "/v1/auth/whoami", undefined, {
        token: ada.accessToken,
      });
      assert.equal((await viaToken.json()).principal.email, ada.email);
      const key = await createKey(h, ada, { name: "who", scopes: ["query"] });
      const viaKey = await h.request("/v1/auth/whoami", { headers: { "x-api-key": key.key } });
      const principal = (await viaKey.json()).principal;
      assert.equal(principal.type, "api_key");
      assert.equal(principal.email, ada.email);
    });

    await t.step("getUsage returns totals and the period it covered", async () => {
      for (const prompt of ["one", "two"]) {
        const res = await h.json("POST", "/v1/query", { prompt, mode: "speed" }, {
          token: ada.accessToken,
        });
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
      }
      const res = await h.json("GET", "/v1/usage?group_by=model", undefined, {
        token: ada.accessToken,
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      const sum = (field: string) =>
        body.items.reduce((n: number, row: Record<string, number>) => n + row[field]!, 0);
      assert.equal(body.totals.requests, 2);
      assert.equal(body.totals.requests, sum("requests"));
      assert.equal(body.totals.input_tokens, sum("input_tokens"));
      assert.equal(body.totals.output_tokens, sum("output_tokens"));
      assert.ok(Math.abs(body.totals.cost_usd - sum("cost_usd")) < 1e-9);
      assert.equal(body.group_by, "model");
      const from = Date.parse(body.from);
      const to = Date.parse(body.to);
      assert.ok(to - from === 30 * 86_400_000, "default range: 30 days before now");
      assert.ok(Math.abs(to - Date.now()) < 60_000);

      const dated = await h.json("GET", "/v1/usage?from=2026-01-01&to=2026-01-31", undefined, {
        token: ada.accessToken,
      });
      const period = await dated.json();
      assert.equal(period.from, "2026-01-01T00:00:00.000Z");
      assert.equal(period.to, "2026-02-01T00:00:00.000Z", "a date `to` covers that whole day");
      assert.deepEqual(period.items, []);
      assert.deepEqual(period.totals, {
        requests: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0,
      });
    });
  } finally {
    await h.close();
  }
});

Deno.test("consistent validation: one 422 form, integer parameters say so", async (t) => {
  const h = await startTestApp();
  try {
    const ada = await registerUser(h);
    const schemaMessage = "The request did not match the schema.";

    await t.step("unknown model on /v1/query: the standard 422 with detail.issues", async () => {
      const res = await h.json("POST", "/v1/query", {
        prompt: "hi",
        mode: "speed",
        models: ["gpt-4o"],
      }, { token: ada.accessToken });
      assert.equal(res.status, 422);
      const body = await res.json();
      assert.equal(body.error, "validation_error");
      assert.equal(body.message, schemaMessage);
      assert.deepEqual(body.detail.issues, [{
        path: ["models"],
        message: "Unknown model: gpt-4o (see GET /v1/models)",
      }]);
    });

    await t.step("unknown model on createChatbot: the same form and issue", async () => {
      const res = await h.json("POST", "/v1/chatbots", { name: "bot", models: ["gpt-4o"] }, {
        token: ada.accessToken,
      });
      assert.equal(res.status, 422);
      const body = await res.json();
      assert.equal(body.message, schemaMessage);
      assert.deepEqual(body.detail.issues, [{
        path: ["models"],
        message: "Unknown model: gpt-4o (see GET /v1/models)",
      }]);
    });

    for (const value of ["abc", "1.5"]) {
      await t.step(`?limit=${value} says "expected an integer"`, async () => {
        const res = await h.json("GET", `/v1/chatbots?limit=${value}`, undefined, {
          token: ada.accessToken,
        });
        assert.equal(res.status, 422);
        const body = await res.json();
        assert.equal(body.message, schemaMessage);
        assert.deepEqual(body.detail.issues, [{ path: ["limit"], message: "expected an integer" }]);
      });
    }

    await t.step("?offset=x and ?max_messages=x too", async () => {
      const offset = await h.json("GET", "/v1/chat/conversations?offset=x", undefined, {
        token: ada.accessToken,
      });
      assert.deepEqual((await offset.json()).detail.issues, [{
        path: ["offset"],
        message: "expected an integer",
      }]);
      const max = await h.json("GET", `/v1/users/${ada.id}/context?max_messages=x`, undefined, {
        token: ada.accessToken,
      });
      assert.deepEqual((await max.json()).detail.issues, [{
        path: ["max_messages"],
        message: "expected an integer",
      }]);
    });
  } finally {
    await h.close();
  }
});

Deno.test("OpenAPI: defaults, consent_token purpose and user_profile precedence are documented", async () => {
  const h = await startTestApp();
  try {
    const doc = await (await h.request("/openapi.json")).json();
    const params = doc.paths["/v1/chatbots"].get.parameters;
    const byName = (name: string) => params.find((p: { name: string }) => p.name === name);
    assert.equal(byName("limit").schema.default, 20);
    assert.equal(byName("offset").schema.default, 0);
    const usage = doc.paths["/v1/usage"].get.parameters;
    assert.equal(usage.find((p: { name: string }) => p.name === "group_by").schema.default, "day");
    const schemas = doc.components.schemas;
    assert.match(schemas.ConsentAnswer.properties.consent_token.description, /receipt/);
    assert.match(
      schemas.ConsentAnswer.properties.consent_token.description,
      /No operation takes it/,
    );
    assert.match(schemas.UserContext.properties.user_profile.description, /account fields win/);
  } finally {
    await h.close();
  }
});
