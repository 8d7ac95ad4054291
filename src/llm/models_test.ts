import assert from "node:assert/strict";
import {
  costMicroUsd,
  costUsd,
  DEFAULT_TIMEOUT_MS,
  llmProvidersSchema,
  type ModelInfo,
  ModelRegistry,
} from "./models.ts";
import { UnknownModelError } from "./errors.ts";

const providerJson = [{
  name: "openai",
  base_url: "https://api.openai.com/v1",
  api_key: "sk-test",
  models: [
    {
      id: "gpt-big",
      upstream: "gpt-4.1",
      rank: 1,
      input_price_per_mtok: 2,
      output_price_per_mtok: 8,
      timeout_ms: 30_000,
    },
    { id: "gpt-small", rank: 3, input_price_per_mtok: 0.15, output_price_per_mtok: 0.6 },
  ],
}];

Deno.test("models: LLM_PROVIDERS schema accepts valid config and defaults kind", () => {
  const parsed = llmProvidersSchema.parse(JSON.parse(JSON.stringify(providerJson)));
  assert.equal(parsed[0]!.kind, "openai");
  assert.equal(parsed[0]!.models[1]!.upstream, undefined);
  assert.deepEqual(llmProvidersSchema.parse([]), []);
});

Deno.test("models: LLM_PROVIDERS schema rejects typos, bad values and duplicates", () => {
  const bad: unknown[] = [
    [{ ...providerJson[0], timeoutMs: 5 }], // unknown key
    [{ ...providerJson[0], base_url: "ftp://example.com" }],
    [{ ...providerJson[0], kind: "anthropic" }],
    [{ ...providerJson[0], models: [] }],
    [{ ...providerJson[0], models: [{ ...providerJson[0]!.models[0], rank: 0 }] }],
    [{ ...providerJson[0], models: [{ ...providerJson[0]!.models[0], input_price_per_mtok: -1 }] }],
    [{ ...providerJson[0], models: [{ ...providerJson[0]!.models[0], id: "has space" }] }],
    [providerJson[0], { ...providerJson[0], name: "other" }], // duplicate model ids
    [providerJson[0], { ...providerJson[0], models: [{ ...providerJson[0]!.models[0], id: "x" }] }], // dup name
    [{ ...providerJson[0], name: "echo" }], // reserved
    { not: "an array" },
  ];
  for (const value of bad) {
    assert.equal(llmProvidersSchema.safeParse(value).success, false, JSON.stringify(value));
  }
});

Deno.test("models: registry from settings exposes models, echo only when enabled", () => {
  const providers = llmProvidersSchema.parse(providerJson);
  const withEcho = ModelRegistry.fromSettings({ providers, echoModels: true });
  assert.deepEqual(withEcho.list().map((m) => m.id), [
    "echo-smart",
    "gpt-big",
    "echo-fast",
    "gpt-small",
  ]);
  assert.deepEqual(withEcho.get("gpt-big"), {
    id: "gpt-big",
    provider: "openai",
    upstream: "gpt-4.1",
    rank: 1,
    prices: { input_per_mtok: 2, output_per_mtok: 8 },
    timeout_ms: 30_000,
    speed_rank: null,
    development: false,
  });
  const small = withEcho.get("gpt-small")!;
  assert.equal(small.upstream, "gpt-small");
  assert.equal(small.timeout_ms, DEFAULT_TIMEOUT_MS);
  const echo = withEcho.get("echo-fast")!;
  assert.equal(echo.development, true);
  assert.equal(echo.provider, "echo");
  // Nominal prices, so budgets can be tried without a provider.
  assert.deepEqual(echo.prices, { input_per_mtok: 0.1, output_per_mtok: 0.4 });
  assert.deepEqual(withEcho.get("echo-smart")!.prices, { input_per_mtok: 1, output_per_mtok: 4 });
  assert.equal(withEcho.provider("echo-fast").development, true);
  assert.equal(withEcho.listWithHealth()[0]!.health.status, "available");
  assert.ok(Object.isFrozen(echo));

  const noEcho = ModelRegistry.fromSettings({ providers, echoModels: false });
  assert.equal(noEcho.has("echo-fast"), false);
  assert.throws(() => noEcho.health("echo-fast"), UnknownModelError);
  assert.throws(
    () =>
      ModelRegistry.fromSettings({
        providers: [...providers, { ...providers[0]!, name: "b" }],
        echoModels: false,
      }),
    /duplicate model id/,
  );
});

Deno.test("models: cost is tokens × price per million, exact to micro-dollars", () => {
  const model = { prices: { input_per_mtok: 2.5, output_per_mtok: 10 } } as ModelInfo;
  assert.equal(costUsd(model, { input_tokens: 1_000_000, output_tokens: 0 }), 2.5);
  assert.equal(costUsd(model, { input_tokens: 1200, output_tokens: 350 }), 0.0065);
  assert.equal(costUsd(model, { input_tokens: 0, output_tokens: 0 }), 0);
  const cheap = { prices: { input_per_mtok: 0.1, output_per_mtok: 0.2 } } as ModelInfo;
  // Half a micro-dollar rounds to one; float noise (0.1 × 3) never shows in the result.
  assert.equal(costUsd(cheap, { input_tokens: 1, output_tokens: 2 }), 0.000001);
  assert.equal(costUsd(cheap, { input_tokens: 3, output_tokens: 3 }), 0.000001);
  assert.equal(costUsd(cheap, { input_tokens: 30, output_tokens: 0 }), 0.000003);
  // Reservations round up, never below the real cost.
  assert.equal(costMicroUsd(cheap, { input_tokens: 3, output_tokens: 0 }, true), 1);
  assert.equal(costMicroUsd(cheap, { input_tokens: 30, output_tokens: 0 }, true), 3);
  assert.equal(costMicroUsd(cheap, { input_tokens: 31, output_tokens: 0 }, true), 4);
});

Deno.test("models: registry records health per model", () => {
  let now = 0;
  const registry = ModelRegistry.fromSettings({ providers: [], echoModels: true }, {
    now: () => now,
    cooldownMs: 1000,
  });
  for (let i = 0; i < 3; i++) registry.recordFailure("echo-fast");
  registry.recordSuccess("echo-smart", 42);
  assert.equal(registry.health("echo-fast").status, "unavailable");
  assert.deepEqual(registry.health("echo-smart"), {
    status: "available",
    latency_ms: 42,
    consecutive_failures: 0,
    unavailable_until: null,
  });
  now = 1000;
  assert.equal(registry.health("echo-fast").status, "degraded");
});
