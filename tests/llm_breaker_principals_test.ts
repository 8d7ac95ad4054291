import assert from "node:assert/strict";
import { ModelHealth } from "../src/llm/health.ts";
import { startMockOpenAI } from "./support/mock_openai_server.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

/** An app whose only model is served by the mock, with a short deadline. */
async function appWithOneModel() {
  const mock = startMockOpenAI({ models: { "mock-one": { reply: "fine answer" } } });
  const providers = [{
    name: "mock",
    base_url: mock.baseUrl,
    api_key: mock.apiKey,
    models: [{
      id: "mock-one",
      rank: 1,
      input_price_per_mtok: 1,
      output_price_per_mtok: 2,
      timeout_ms: 300,
    }],
  }];
  const h = await startTestApp({ LLM_PROVIDERS: JSON.stringify(providers) });
  return {
    h,
    mock,
    close: async () => {
      await h.close();
      await mock.close();
    },
  };
}

async function ask(h: TestApp, credential: string, prompt = "hello there") {
  const headers = credential.startsWith("gate_") ? { "x-api-key": credential } : undefined;
  const res = await h.json("POST", "/v1/query", { prompt, mode: "balanced" }, {
    ...(headers ? { headers } : { token: credential }),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("one caller's timeouts never make a model unavailable to others (real HTTP provider)", async () => {
  const { h, mock, close } = await appWithOneModel();
  try {
    const mallory: TestUser = await registerUser(h);
    const { key: malloryKey } = await createKey(h, mallory, { name: "second credential" });
    const alice = await registerUser(h);

    // Mallory's calls hang past the model's deadline (a huge prompt, say),
    // from a session and a key: both are the same principal.
    mock.models["mock-one"]!.hang = true;
    for (const credential of [mallory.accessToken, malloryKey, mallory.accessToken]) {
      const { status, body } = await ask(h, credential, "x".repeat(30_000));
      assert.equal(status, 503, JSON.stringify(body));
      assert.equal(body.error, "service_unavailable");
    }
    const upstreamCalls = mock.requestsFor("mock-one").length;
    assert.equal(upstreamCalls, 3);
    assert.notEqual(h.services.models.health("mock-one").status, "unavailable");

    // The model is fine for everyone else.
    mock.models["mock-one"]!.hang = false;
    const answered = await ask(h, alice.accessToken);
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.answers[0].content, "fine answer");

    // Mallory's own breaker is open: their retries do not reach the upstream.
    const refused = await ask(h, malloryKey);
    assert.equal(refused.status, 503);
    assert.equal(mock.requestsFor("mock-one").length, upstreamCalls + 1, "only Alice's call");
  } finally {
    await close();
  }
});

Deno.test("failures from several principals still open the shared breaker", async () => {
  const { h, mock, close } = await appWithOneModel();
  try {
    const [carol, dave, erin] = [
      await registerUser(h),
      await registerUser(h),
      await registerUser(h),
    ];
    mock.models["mock-one"]!.status = 500;
    for (const user of [carol, dave, carol]) {
      assert.equal((await ask(h, user.accessToken)).status, 503);
    }
    assert.equal(h.services.models.health("mock-one").status, "unavailable");
    mock.models["mock-one"]!.status = undefined;
    const calls = mock.requestsFor("mock-one").length;
    const { status, body } = await ask(h, erin.accessToken);
    assert.equal(status, 503);
    assert.match(JSON.stringify(body), /model_unavailable/);
    assert.equal(mock.requestsFor("mock-one").length, calls, "the open breaker skips the model");
  } finally {
    await close();
  }
});

Deno.test("health: failures are attributed per principal", () => {
  let now = 1_000;
  const health = new ModelHealth({ now: () => now });
  for (let i = 0; i < 5; i++) health.recordFailure({ principal: "mallory" });
  assert.equal(health.status, "degraded", "one principal never opens the shared breaker");
  assert.equal(health.statusFor("mallory"), "unavailable");
  assert.equal(health.statusFor("alice"), "degraded");
  assert.equal(health.snapshot("mallory").unavailable_until, now + 30_000);
  // A caller-side refusal (upstream 400) only ever counts against its principal.
  for (let i = 0; i < 3; i++) health.recordFailure({ principal: "bob", callerFault: true });
  health.recordSuccess(10, "alice");
  assert.equal(health.status, "available");
  assert.equal(health.statusFor("mallory"), "unavailable", "others' success does not clear it");
  now += 30_000;
  assert.equal(health.statusFor("mallory"), "degraded", "cool-down over");
  health.recordSuccess(10, "mallory");
  assert.equal(health.statusFor("mallory"), "available");
  // Two principals together do open it.
  health.recordFailure({ principal: "a" });
  health.recordFailure({ principal: "a" });
  health.recordFailure({ principal: "b" });
  assert.equal(health.status, "unavailable");
});
