import assert from "node:assert/strict";
import { startAppWithMock } from "./support/chat.ts";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

interface AnswerBody {
  model: string;
  content: string;
  status: string;
  finish_reason: string | null;
  latency_ms: number;
  usage: { input_tokens: number; output_tokens: number };
  cost_usd: number;
  error?: { code: string; message: string };
}

Deno.test("query: modes over the echo models", async (t) => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h);
    const ask = (body: Record<string, unknown>) =>
      h.json("POST", "/v1/query", body, { token: user.accessToken });

    await t.step("listModels shows the echo models, labelled as development", async () => {
      const res = await h.json("GET", "/v1/models", undefined, { token: user.accessToken });
      assert.equal(res.status, 200);
      assert.ok(res.headers.get("x-ratelimit-limit"));
      const { items } = await res.json();
      assert.deepEqual(items.map((m: { id: string }) => m.id), ["echo-smart", "echo-fast"]);
      assert.equal(items[0].quality_rank, 1);
      assert.equal(items[0].provider, "echo");
      assert.equal(items[0].development, true);
      assert.equal(items[0].status, "available");
      // Nominal prices, so budgets can be tried without a provider.
      assert.deepEqual(items[0].prices, { input_per_mtok: 1, output_per_mtok: 4 });
      assert.deepEqual(items[1].prices, { input_per_mtok: 0.1, output_per_mtok: 0.4 });
    });

    await t.step("balanced answers from the best-ranked model", async () => {
      const res = await ask({ prompt: "hello there", mode: "balanced" });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.mode, "balanced");
      assert.equal(body.answers.length, 1);
      assert.equal(body.answers[0].model, "echo-smart");
      assert.equal(body.answers[0].content, "Echo: hello there");
      assert.equal(body.answers[0].finish_reason, "stop");
      assert.equal(body.selected, 0);
      assert.match(body.id, /^[0-9a-f-]{36}$/);
      assert.match(body.conversation_id, /^[0-9a-f-]{36}$/);
      // "hello there": 3 tokens in; "Echo: hello there": 5 out; at 1.00 / 4.00 USD per M.
      assert.deepEqual(body.usage, { input_tokens: 3, output_tokens: 5, cost_usd: 0.000023 });
      assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    });

    await t.step("speed answers from one model", async () => {
      const body = await (await ask({ prompt: "quick", mode: "speed" })).json();
      assert.equal(body.answers.length, 1);
      assert.equal(body.answers[0].content, "Echo: quick");
    });

    await t.step("quality asks every top model and selects the best-ranked", async () => {
      const body = await (await ask({ prompt: "think hard", mode: "quality" })).json();
      assert.deepEqual(body.answers.map((a: AnswerBody) => a.model), ["echo-smart", "echo-fast"]);
      assert.ok(body.answers.every((a: AnswerBody) => a.status === "complete"));
      assert.equal(body.selected, 0);
      const sum = body.answers.reduce((n: number, a: AnswerBody) => n + a.usage.output_tokens, 0);
      assert.equal(body.usage.output_tokens, sum);
    });

    await t.step("max_models and models restrict the candidates", async () => {
      const one = await (await ask({ prompt: "x", mode: "quality", max_models: 1 })).json();
      assert.equal(one.answers.length, 1);
      const fast = await (await ask({ prompt: "x", mode: "quality", models: ["echo-fast"] }))
        .json();
      assert.deepEqual(fast.answers.map((a: AnswerBody) => a.model), ["echo-fast"]);
    });

    await t.step("max_tokens caps the answer", async () => {
      const body =
        await (await ask({ prompt: "a long prompt indeed", mode: "balanced", max_tokens: 1 }))
          .json();
      assert.equal(body.answers[0].content, "Echo");
      assert.equal(body.answers[0].finish_reason, "length");
    });

    await t.step("validation: unknown model, bounds, missing fields are 422", async () => {
      const unknown = await ask({ prompt: "x", mode: "balanced", models: ["gpt-nope"] });
      assert.equal(unknown.status, 422);
      const body = await unknown.json();
      assert.equal(body.error, "validation_error");
      assert.deepEqual(body.detail.issues[0].path, ["models"]);
      for (
        const bad of [
          { prompt: "x", mode: "fastest" },
          { prompt: "x", mode: "quality", max_models: 6 },
          { prompt: "x", mode: "quality", max_models: 0 },
          { prompt: "x", mode: "balanced", temperature: 2.5 },
          { prompt: "x", mode: "balanced", max_tokens: 0 },
          { prompt: "", mode: "balanced" },
          { mode: "balanced" },
        ]
      ) {
        const res = await ask(bad);
        assert.equal(res.status, 422, JSON.stringify(bad));
        await res.body?.cancel();
      }
    });

    await t.step("malformed JSON is 400", async () => {
      const res = await h.request("/v1/query", {
        method: "POST",
        headers: {
          authorization: `Bearer ${user.accessToken}`,
          "content-type": "application/json",
        },
        body: "{nope",
      });
      assert.equal(res.status, 400);
      await res.body?.cancel();
    });

    await t.step("a key without the query scope is 403; no credentials 401", async () => {
      const key = await createKey(h, user, { name: "chat only", scopes: ["chat"] });
      const res = await h.json("POST", "/v1/query", { prompt: "x", mode: "speed" }, {
        headers: { "x-api-key": key.key },
      });
      assert.equal(res.status, 403);
      await res.body?.cancel();
      const anon = await h.json("POST", "/v1/query", { prompt: "x", mode: "speed" });
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
    });
  } finally {
    await h.close();
  }
});

Deno.test("query: prompt length is bounded by MAX_PROMPT_CHARS", async () => {
  const h = await startTestApp({ MAX_PROMPT_CHARS: "50" });
  try {
    const user = await registerUser(h);
    const ok = await h.json("POST", "/v1/query", { prompt: "x".repeat(50), mode: "speed" }, {
      token: user.accessToken,
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const long = await h.json("POST", "/v1/query", { prompt: "x".repeat(51), mode: "speed" }, {
      token: user.accessToken,
    });
    assert.equal(long.status, 422);
    const body = await long.json();
    assert.deepEqual(body.detail.issues[0].path, ["prompt"]);
  } finally {
    await h.close();
  }
});

Deno.test("query: real upstream failures over the mock OpenAI server", async (t) => {
  const { h, mock, close } = await startAppWithMock({
    "m-broken": { status: 500, errorMessage: "upstream exploded" },
    "m-good": { reply: "good answer" },
    "m-okay": { reply: "okay answer" },
    "m-down-1": { status: 503 },
    "m-down-2": { status: 429 },
  });
  try {
    const user = await registerUser(h);
    const ask = (body: Record<string, unknown>) =>
      h.json("POST", "/v1/query", body, { token: user.accessToken });

    await t.step("quality: the failing model carries an error, the others answer", async () => {
      const res = await ask({
        prompt: "compare",
        mode: "quality",
        models: ["m-broken", "m-good", "m-okay"],
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      const [broken, good, okay] = body.answers as AnswerBody[];
      assert.equal(broken!.model, "m-broken");
      assert.equal(broken!.status, "error");
      assert.equal(broken!.error!.code, "upstream_error");
      assert.equal(good!.content, "good answer");
      assert.equal(okay!.content, "okay answer");
      assert.equal(body.selected, 1, "the best-ranked successful answer");
      // The mock reports usage: prompt = characters, completion = chunk count.
      assert.equal(good!.usage.output_tokens, 2);
      assert.ok(good!.cost_usd > 0, "priced models cost money");
      assert.equal(mock.requestsFor("m-good").length, 1);
    });

    await t.step("balanced falls back down the ranking", async () => {
      const body = await (await ask({
        prompt: "fallback please",
        mode: "balanced",
        models: ["m-broken", "m-okay"],
      })).json();
      assert.deepEqual(body.answers.map((a: AnswerBody) => [a.model, a.status]), [
        ["m-broken", "error"],
        ["m-okay", "complete"],
      ]);
      assert.equal(body.selected, 1);
    });

    await t.step("every model failing is 503 service_unavailable", async () => {
      const res = await ask({
        prompt: "doomed",
        mode: "balanced",
        models: ["m-down-1", "m-down-2"],
      });
      assert.equal(res.status, 503);
      const body = await res.json();
      assert.equal(body.error, "service_unavailable");
      assert.deepEqual(
        body.detail.answers.map((
          a: { model: string; error: { code: string } },
        ) => [a.model, a.error.code]),
        [["m-down-1", "upstream_error"], ["m-down-2", "rate_limited"]],
      );
    });

    await t.step("the conversation history reaches the model", async () => {
      const first =
        await (await ask({ prompt: "my name is Ada", mode: "balanced", models: ["m-good"] }))
          .json();
      await (await ask({
        prompt: "what is my name?",
        mode: "balanced",
        models: ["m-good"],
        conversation_id: first.conversation_id,
      })).json();
      const last = mock.requestsFor("m-good").at(-1)!;
      assert.deepEqual(last.body!.messages, [
        { role: "user", content: "my name is Ada" },
        { role: "assistant", content: "good answer" },
        { role: "user", content: "what is my name?" },
      ]);
    });

    await t.step("temperature and max_tokens are passed upstream", async () => {
      await (await ask({
        prompt: "t",
        mode: "balanced",
        models: ["m-okay"],
        temperature: 0.2,
        max_tokens: 7,
      }))
        .json();
      const last = mock.requestsFor("m-okay").at(-1)!;
      assert.equal(last.body!.temperature, 0.2);
      assert.equal(last.body!.max_completion_tokens, 7);
    });
  } finally {
    await close();
  }
});
