import assert from "node:assert/strict";
import { AllModelsFailedError, InvalidQueryError, UnknownModelError } from "../src/llm/errors.ts";
import type { HealthOptions } from "../src/llm/health.ts";
import {
  type CallGate,
  type CallOutcome,
  CallRefusedError,
  type PlannedCall,
} from "../src/llm/gate.ts";
import { echoEntry, type ModelConfig, ModelRegistry } from "../src/llm/models.ts";
import { OpenAIProvider } from "../src/llm/openai_provider.ts";
import type { QueryEvent, QueryOptions } from "../src/llm/query_types.ts";
import { LlmRouter } from "../src/llm/router.ts";
import { type MockModel, type MockOpenAI, startMockOpenAI } from "./support/mock_openai_server.ts";

const messages: QueryOptions["messages"] = [{ role: "user", content: "What is up?" }];

function model(id: string, rank: number, extra: Partial<ModelConfig> = {}): ModelConfig {
  return { id, rank, input_price_per_mtok: 1, output_price_per_mtok: 2, ...extra };
}

/** A router over one mock upstream; `configs` decide rank/timeout, `behaviours` the mock's replies. */
async function withRouter(
  configs: ModelConfig[],
  behaviours: Record<string, MockModel>,
  fn: (ctx: { router: LlmRouter; registry: ModelRegistry; mock: MockOpenAI }) => Promise<void>,
  health?: HealthOptions,
): Promise<void> {
  const mock = startMockOpenAI({ models: behaviours });
  try {
    const provider = new OpenAIProvider({
      name: "mock",
      baseUrl: mock.baseUrl,
      apiKey: mock.apiKey,
      timeoutMs: 10_000,
    });
    const registry = new ModelRegistry([{ provider, models: configs }], health);
    await fn({ router: new LlmRouter(registry), registry, mock });
  } finally {
    await mock.close();
  }
}

/** Every call is admitted; the reservations and settlements are kept for assertions. */
const gateLog: { reserved: PlannedCall[]; settled: CallOutcome[] } = { reserved: [], settled: [] };
const admitAll: CallGate = {
  reserve: (call) => {
    gateLog.reserved.push(call);
    return Promise.resolve({
      settle: (outcome) => {
        gateLog.settled.push(outcome);
        return Promise.resolve();
      },
    });
  },
};

function opts(extra: Partial<QueryOptions>): QueryOptions {
  return {
    mode: "balanced",
    messages,
    signal: new AbortController().signal,
    gate: admitAll,
    ...extra,
  };
}

async function collect(events: AsyncIterable<QueryEvent>): Promise<QueryEvent[]> {
  const out: QueryEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

Deno.test("router balanced: best-ranked model answers with usage, cost and latency", async () => {
  await withRouter(
    [model("b", 2), model("a", 1)],
    {
      a: { reply: "alpha says hi", usage: { prompt_tokens: 1000, completion_tokens: 500 } },
      b: {},
    },
    async ({ router, registry, mock }) => {
      const r = await router.runQuery(opts({ mode: "balanced" }));
      assert.equal(r.selected, 0);
      assert.equal(r.aborted, false);
      assert.equal(r.answers.length, 1);
      const [a] = r.answers;
      assert.equal(a!.model, "a");
      assert.equal(a!.content, "alpha says hi");
      assert.equal(a!.status, "complete");
      assert.equal(a!.finish_reason, "stop");
      assert.deepEqual(a!.usage, { input_tokens: 1000, output_tokens: 500 });
      assert.equal(a!.cost_usd, 0.002); // 1000 × $1/M + 500 × $2/M
      assert.equal(a!.error, undefined);
      assert.ok(a!.latency_ms >= 0);
      assert.equal(mock.requestsFor("b").length, 0);
      assert.notEqual(registry.health("a").latency_ms, null);
    },
  );
});

Deno.test("router balanced: falls back down the ranking when the best model errors", async () => {
  await withRouter(
    [model("a", 1), model("b", 2), model("c", 3)],
    { a: { status: 500 }, b: { status: 429 }, c: { reply: "from c" } },
    async ({ router, registry }) => {
      const r = await router.runQuery(opts({ mode: "balanced" }));
      assert.deepEqual(r.answers.map((a) => [a.model, a.status, a.error?.code]), [
        ["a", "error", "upstream_error"],
        ["b", "error", "rate_limited"],
        ["c", "complete", undefined],
      ]);
      assert.equal(r.selected, 2);
      assert.equal(r.answers[2]!.content, "from c");
      assert.equal(registry.health("a").status, "degraded");
      assert.equal(registry.health("c").status, "available");
    },
  );
});

Deno.test("router balanced: a timed-out model is aborted upstream and the next one answers", async () => {
  await withRouter(
    [model("a", 1, { timeout_ms: 300 }), model("b", 2)],
    { a: { hang: true }, b: { reply: "b is fine" } },
    async ({ router, mock }) => {
      const r = await router.runQuery(opts({ mode: "balanced" }));
      assert.equal(r.answers[0]!.error?.code, "timeout");
      assert.equal(r.answers[0]!.status, "error");
      assert.equal(r.answers[1]!.content, "b is fine");
      assert.equal(r.selected, 1);
      assert.equal(await mock.requestsFor("a")[0]!.settled, "aborted");
    },
  );
});

Deno.test("router speed: unmeasured models first, then lowest latency; falls back on failure", async () => {
  await withRouter(
    [model("good", 1), model("quick", 2), model("new", 3)],
    { good: { reply: "good" }, quick: { reply: "quick" }, new: { status: 503 } },
    async ({ router, registry, mock }) => {
      registry.recordSuccess("good", 900);
      registry.recordSuccess("quick", 50);
      // "new" has no latency sample: it is tried first, fails, falls back to the fastest known
      const first = await router.runQuery(opts({ mode: "speed" }));
      assert.deepEqual(first.answers.map((a) => a.model), ["new", "quick"]);
      assert.equal(first.selected, 1);
      // now everything is measured ("new" failed: still no latency, but degraded models stay eligible)
      mock.models.new = { reply: "new" };
      const second = await router.runQuery(opts({ mode: "speed", models: ["good", "quick"] }));
      assert.deepEqual(second.answers.map((a) => a.model), ["quick"]);
    },
  );
});

Deno.test("router speed: with no latency data falls back to rank order", async () => {
  await withRouter([model("z", 2), model("y", 1)], { y: {}, z: {} }, async ({ router }) => {
    const r = await router.runQuery(opts({ mode: "speed" }));
    assert.equal(r.answers[0]!.model, "y");
  });
});

Deno.test("router quality: models run in parallel, failures carry errors, best-ranked success selected", async () => {
  await withRouter(
    [model("m1", 1), model("m2", 2), model("m3", 3), model("m4", 4)],
    {
      m1: { status: 500, errorMessage: "m1 down" },
      m2: { reply: "two a b c", chunkDelayMs: 20 },
      m3: { reply: "three a b c", chunkDelayMs: 20 },
      m4: { reply: "four" },
    },
    async ({ router, mock }) => {
      const stream = await router.openQuery(opts({ mode: "quality" }));
      assert.deepEqual(stream.models, ["m1", "m2", "m3"]);
      const events = await collect(stream);
      const result = await stream.result;

      assert.deepEqual(events[0], { type: "meta", mode: "quality", models: ["m1", "m2", "m3"] });
      // parallel: both slow models stream chunks before either finishes, and chunks interleave
      const firstUsage = events.findIndex((e) => e.type === "usage");
      const chunkModels = events.slice(0, firstUsage).filter((e) => e.type === "chunk").map((e) =>
        e.type === "chunk" ? e.model : ""
      );
      assert.ok(chunkModels.includes("m2") && chunkModels.includes("m3"), chunkModels.join());
      assert.equal(mock.requestsFor("m4").length, 0);

      const failure = events.find((e) => e.type === "model_error");
      assert.ok(failure?.type === "model_error");
      assert.equal(failure.model, "m1");
      assert.equal(failure.error.code, "upstream_error");
      assert.equal(failure.fallback, null, "quality mode does not fall back");
      assert.equal(result.answers.length, 3);
      assert.deepEqual(result.answers.map((a) => [a.model, a.status]), [
        ["m1", "error"],
        ["m2", "complete"],
        ["m3", "complete"],
      ]);
      assert.match(result.answers[0]!.error!.message, /m1 down/);
      assert.equal(result.answers[1]!.content, "two a b c");
      assert.equal(result.answers[2]!.content, "three a b c");
      assert.equal(result.selected, 1);
      assert.deepEqual(events.at(-1), { type: "done", ...result });

      // the streamed chunks of each model rebuild its answer
      for (const a of result.answers) {
        const text = events.filter((e) => e.type === "chunk" && e.model === a.model)
          .map((e) => (e.type === "chunk" ? e.delta : "")).join("");
        assert.equal(text, a.content);
      }
    },
  );
});

Deno.test("router quality: max_models, explicit model lists and validation", async () => {
  await withRouter(
    [model("m1", 1), model("m2", 2), model("m3", 3), model("m4", 4)],
    { m1: {}, m2: {}, m3: {}, m4: {} },
    async ({ router }) => {
      const two = await router.runQuery(opts({ mode: "quality", maxModels: 2 }));
      assert.deepEqual(two.answers.map((a) => a.model), ["m1", "m2"]);
      const explicit = await router.runQuery(
        opts({ mode: "quality", models: ["m4", "m2", "m3", "m1", "m4"] }),
      );
      assert.deepEqual(explicit.answers.map((a) => a.model), ["m1", "m2", "m3", "m4"]);
      const restricted = await router.runQuery(opts({ mode: "balanced", models: ["m3", "m4"] }));
      assert.deepEqual(restricted.answers.map((a) => a.model), ["m3"]);

      await assert.rejects(
        router.runQuery(opts({ mode: "quality", maxModels: 6 })),
        InvalidQueryError,
      );
      await assert.rejects(
        router.runQuery(opts({ mode: "quality", maxModels: 0 })),
        InvalidQueryError,
      );
      await assert.rejects(router.runQuery(opts({ messages: [] })), InvalidQueryError);
      await assert.rejects(router.runQuery(opts({ models: [] })), InvalidQueryError);
      await assert.rejects(
        () => router.openQuery(opts({ models: ["m1", "nope", "nada"] })),
        (err: unknown) => err instanceof UnknownModelError && err.unknown.join() === "nope,nada",
      );
    },
  );
});

Deno.test("router quality: any success is success, all failing is AllModelsFailedError", async () => {
  await withRouter(
    [model("m1", 1), model("m2", 2)],
    { m1: { status: 500 }, m2: { reply: "a b", failAfterChunks: 1 } },
    async ({ router }) => {
      const err = await router.runQuery(opts({ mode: "quality" })).catch((e) => e);
      assert.ok(err instanceof AllModelsFailedError);
      assert.deepEqual(err.answers.map((a) => [a.model, a.error?.code]), [
        ["m1", "upstream_error"],
        ["m2", "upstream_error"],
      ]);
      // partial output of a failed model is kept, with estimated usage
      assert.equal(err.answers[1]!.content, "a ");
      assert.ok(err.answers[1]!.usage.output_tokens > 0);

      // streaming never throws for runtime failures: result says selected null
      const stream = await router.openQuery(opts({ mode: "quality" }));
      const events = await collect(stream);
      assert.equal(events.filter((e) => e.type === "model_error").length, 2);
      assert.equal((await stream.result).selected, null);
    },
  );
});

Deno.test("router: unavailable models are skipped until their cool-down ends", async () => {
  let now = 0;
  await withRouter(
    [model("a", 1), model("b", 2)],
    { a: { status: 500 }, b: { reply: "b" } },
    async ({ router, registry, mock }) => {
      for (let i = 0; i < 3; i++) {
        const r = await router.runQuery(opts({ mode: "balanced" }));
        assert.equal(r.answers[r.selected!]!.model, "b");
      }
      assert.equal(registry.health("a").status, "unavailable");
      assert.equal(mock.requestsFor("a").length, 3);
      const r = await router.runQuery(opts({ mode: "balanced" }));
      assert.deepEqual(r.answers.map((x) => x.model), ["b"]);
      assert.equal(mock.requestsFor("a").length, 3, "not called while unavailable");

      // only unavailable candidates: rejected up front, before any streaming
      await assert.rejects(
        () => router.openQuery(opts({ models: ["a"] })),
        (err: unknown) =>
          err instanceof AllModelsFailedError &&
          err.answers[0]!.error!.code === "model_unavailable",
      );

      // cool-down over: the next query probes "a" again, and a success closes the breaker
      now += 30_000;
      mock.models.a = { reply: "a is back" };
      const probe = await router.runQuery(opts({ mode: "balanced" }));
      assert.deepEqual(probe.answers.map((x) => x.model), ["a"]);
      assert.equal(registry.health("a").status, "available");
    },
    { now: () => now },
  );
});

Deno.test("router streaming: fallback is announced with model_error", async () => {
  await withRouter(
    [model("a", 1), model("b", 2)],
    { a: { reply: "a1 a2 a3", failAfterChunks: 1 }, b: { reply: "b1 b2" } },
    async ({ router }) => {
      const events = await collect(await router.openQuery(opts({ mode: "balanced" })));
      const summary = events.map((e) =>
        e.type === "chunk"
          ? `chunk:${e.model}:${e.delta}`
          : e.type === "model_error"
          ? `error:${e.model}->${e.fallback}`
          : e.type === "usage"
          ? `usage:${e.model}`
          : e.type
      );
      assert.deepEqual(summary, [
        "meta",
        "chunk:a:a1 ",
        "error:a->b",
        "chunk:b:b1 ",
        "chunk:b:b2",
        "usage:b",
        "done",
      ]);
      const done = events.at(-1);
      assert.ok(done?.type === "done");
      assert.equal(done.selected, 1);
      assert.equal(done.answers[0]!.content, "a1 ", "failed attempt keeps its partial text");
    },
  );
});

Deno.test("router streaming: abort cancels every upstream call and keeps partial answers", async () => {
  await withRouter(
    [model("m1", 1), model("m2", 2)],
    {
      m1: { reply: "one two three four five six", chunkDelayMs: 30 },
      m2: { reply: "uno dos tres cuatro cinco seis", chunkDelayMs: 30 },
    },
    async ({ router, registry, mock }) => {
      const ac = new AbortController();
      const stream = await router.openQuery(opts({ mode: "quality", signal: ac.signal }));
      const seen = new Set<string>();
      const events: QueryEvent[] = [];
      for await (const e of stream) {
        events.push(e);
        if (e.type === "chunk") seen.add(e.model);
        if (seen.size === 2 && !ac.signal.aborted) ac.abort();
      }
      const result = await stream.result;
      assert.equal(result.aborted, true);
      assert.equal(result.selected, null);
      assert.deepEqual(result.answers.map((a) => a.status), ["incomplete", "incomplete"]);
      for (const a of result.answers) {
        assert.ok(a.content.length > 0 && a.content.length < 25, a.content);
        assert.equal(a.error, undefined);
        assert.equal(a.finish_reason, null);
      }
      assert.equal(events.at(-1)?.type, "done");
      assert.equal(events.filter((e) => e.type === "model_error").length, 0);
      for (const r of mock.requests) assert.equal(await r.settled, "aborted");
      // a client abort is not the model's fault
      assert.equal(registry.health("m1").consecutive_failures, 0);
    },
  );
});

Deno.test("router: runQuery resolves with partial answers when aborted", async () => {
  await withRouter(
    [model("a", 1)],
    { a: { reply: "x y z", chunkDelayMs: 5_000 } },
    async ({ router, mock }) => {
      const ac = new AbortController();
      const pending = router.runQuery(opts({ signal: ac.signal }));
      await mock.waitForRequests(1);
      ac.abort();
      const r = await pending;
      assert.equal(r.aborted, true);
      // Nothing delivered, but the prompt went upstream: billed as estimated, never 0.
      assert.deepEqual(r.answers.map((a) => [a.status, a.content, a.usage, a.cost_usd]), [[
        "incomplete",
        "",
        { input_tokens: 3, output_tokens: 0 },
        0.000003,
      ]]);
      assert.equal(await mock.requests[0]!.settled, "aborted");
    },
  );
});

Deno.test("router streaming: leaving the iteration early cancels upstream calls", async () => {
  await withRouter(
    [model("a", 1)],
    { a: { reply: "p q r s t u", chunkDelayMs: 30 } },
    async ({ router, mock }) => {
      const stream = await router.openQuery(opts({}));
      for await (const e of stream) if (e.type === "chunk") break;
      const r = await stream.result;
      assert.equal(r.answers[0]!.status, "incomplete");
      assert.equal(r.answers[0]!.content, "p ");
      assert.equal(await mock.requests[0]!.settled, "aborted");
    },
  );
});

Deno.test("router: echo models end to end (development provider)", async () => {
  const registry = new ModelRegistry([echoEntry()]);
  const router = new LlmRouter(registry);
  const r = await router.runQuery(opts({ mode: "quality" }));
  // Nominal echo prices: smart 1.00 / 4.00, fast 0.10 / 0.40 USD per million tokens;
  // 3 prompt tokens ("What is up?"), 5 output tokens ("Echo: What is up?").
  assert.deepEqual(r.answers.map((a) => [a.model, a.content, a.usage, a.cost_usd]), [
    ["echo-smart", "Echo: What is up?", { input_tokens: 3, output_tokens: 5 }, 0.000023],
    ["echo-fast", "Echo: What is up?", { input_tokens: 3, output_tokens: 5 }, 0.000002],
  ]);
  assert.equal(r.selected, 0);
  // speed: both were measured by the quality run; the faster echo model wins
  const fast = await router.runQuery(opts({ mode: "speed" }));
  assert.equal(fast.answers[0]!.model, "echo-fast");
});

Deno.test("router speed: before latency is measured the declared speed decides", async () => {
  await withRouter(
    [model("smart", 1, { speed_rank: 2 }), model("fast", 2, { speed_rank: 1 })],
    { smart: { reply: "smart" }, fast: { reply: "fast" } },
    async ({ router, registry }) => {
      const first = await router.runQuery(opts({ mode: "speed" }));
      assert.deepEqual(first.answers.map((a) => a.model), ["fast"]);
      // Measured against unmeasured: still the declared order, no detour to the slower one.
      const second = await router.runQuery(opts({ mode: "speed" }));
      assert.deepEqual(second.answers.map((a) => a.model), ["fast"]);
      // Both measured: latency decides.
      registry.recordSuccess("smart", 1);
      registry.recordSuccess("fast", 10_000);
      const third = await router.runQuery(opts({ mode: "speed" }));
      assert.deepEqual(third.answers.map((a) => a.model), ["smart"]);
    },
  );
});

Deno.test("router speed: the echo models declare echo-fast the faster", async () => {
  const registry = new ModelRegistry([echoEntry()]);
  assert.equal(registry.get("echo-fast")!.speed_rank, 1);
  assert.equal(registry.get("echo-smart")!.speed_rank, 2);
  const r = await new LlmRouter(registry).runQuery(opts({ mode: "speed" }));
  assert.equal(r.answers[0]!.model, "echo-fast");
});

Deno.test("router streamed: a failure after content is a cut answer, not a fallback", async () => {
  await withRouter(
    [model("a", 1), model("b", 2)],
    { a: { reply: "one two three four", failAfterChunks: 2 }, b: { reply: "b answer" } },
    async ({ router, registry, mock }) => {
      const stream = await router.openQuery(opts({ streamed: true }));
      const events = await collect(stream);
      const result = await stream.result;
      assert.equal(result.selected, null);
      assert.equal(result.aborted, false, "not cancelled by the caller");
      assert.equal(result.answers.length, 1);
      const cut = result.answers[0]!;
      assert.equal(cut.status, "incomplete");
      assert.equal(cut.content, "one two ");
      assert.equal(cut.finish_reason, null);
      assert.equal(cut.error?.code, "upstream_error");
      assert.ok(cut.usage.output_tokens > 0);
      assert.equal(mock.requestsFor("b").length, 0);
      assert.deepEqual(events.find((e) => e.type === "model_error"), {
        type: "model_error",
        model: "a",
        error: cut.error,
        fallback: null,
      });
      assert.equal(registry.health("a").consecutive_failures, 1);
      // Not streamed (a JSON answer), the same failure falls back.
      const json = await router.runQuery(opts({}));
      assert.deepEqual(json.answers.map((a) => [a.model, a.status]), [
        ["a", "error"],
        ["b", "complete"],
      ]);
    },
  );
});

Deno.test("router: an upstream silent for the idle timeout has failed", async () => {
  const mock = startMockOpenAI({
    models: { mute: { hang: true }, stuck: { reply: "x y z", stallAfterChunks: 1 }, ok: {} },
  });
  try {
    const provider = new OpenAIProvider({
      name: "mock",
      baseUrl: mock.baseUrl,
      apiKey: mock.apiKey,
      timeoutMs: 10_000,
    });
    const registry = new ModelRegistry([{
      provider,
      models: [model("mute", 1), model("stuck", 2), model("ok", 3)],
    }]);
    const router = new LlmRouter(registry, { streamIdleTimeoutMs: 150 });
    const before = await router.runQuery(opts({ models: ["mute", "ok"] }));
    assert.deepEqual(before.answers.map((a) => [a.model, a.status]), [
      ["mute", "error"],
      ["ok", "complete"],
    ]);
    assert.equal(before.answers[0]!.error?.code, "timeout");
    assert.match(before.answers[0]!.error!.message, /no data from upstream for 150 ms/);
    assert.equal(await mock.requestsFor("mute")[0]!.settled, "aborted");
    const stream = await router.openQuery(opts({ models: ["stuck", "ok"], streamed: true }));
    await collect(stream);
    const after = await stream.result;
    assert.deepEqual(after.answers.map((a) => [a.model, a.status, a.content]), [
      ["stuck", "incomplete", "x "],
    ]);
    assert.equal(after.answers[0]!.error?.code, "timeout");
  } finally {
    await mock.close();
  }
});

Deno.test("router: the output cap goes upstream (request's max_tokens, else the default)", async () => {
  await withRouter([model("a", 1)], { a: {} }, async ({ registry, mock }) => {
    const router = new LlmRouter(registry, { defaultMaxOutputTokens: 77 });
    gateLog.reserved.length = 0;
    await router.runQuery(opts({}));
    await router.runQuery(opts({ maxTokens: 5 }));
    assert.deepEqual(
      mock.requestsFor("a").map((r) => r.body?.max_completion_tokens),
      [77, 5],
    );
    // The gate reserved prompt estimate + that same cap.
    assert.deepEqual(gateLog.reserved.map((c) => [c.model.id, c.promptTokens, c.outputCap]), [
      ["a", 3, 77],
      ["a", 3, 5],
    ]);
  });
});

Deno.test("router: every call is settled with the gate, provider or estimated", async () => {
  await withRouter(
    [model("good", 1), model("bad", 2)],
    { good: {}, bad: { status: 500 } },
    async ({ router }) => {
      gateLog.settled.length = 0;
      await router.runQuery(opts({ mode: "quality" }));
      const byStatus = gateLog.settled.map((s) => [s.status, s.source, s.usage.input_tokens > 0]);
      assert.deepEqual(byStatus.sort(), [["complete", "provider", true], [
        "error",
        "estimated",
        true,
      ]]);
    },
  );
});

Deno.test("router: a refused reservation answers rate_limited; all refused rejects with the reason", async () => {
  await withRouter(
    [model("m1", 1), model("m2", 2)],
    { m1: {}, m2: {} },
    async ({ router, mock }) => {
      const reason = new Error("429 from the layer above");
      const refuseM1: CallGate = {
        reserve: (call) =>
          call.model.id === "m1"
            ? Promise.reject(new CallRefusedError("rate_limited", "budget exhausted", reason))
            : admitAll.reserve(call),
      };
      const r = await router.runQuery(opts({ mode: "quality", gate: refuseM1 }));
      assert.deepEqual(r.answers.map((a) => [a.model, a.status, a.error?.code ?? null]), [
        ["m1", "error", "rate_limited"],
        ["m2", "complete", null],
      ]);
      assert.equal(mock.requestsFor("m1").length, 0, "a refused model is never called");

      const refuseAll: CallGate = {
        reserve: () => Promise.reject(new CallRefusedError("rate_limited", "no", reason)),
      };
      const err = await router.openQuery(opts({ mode: "quality", gate: refuseAll })).catch((
        e,
      ) => e);
      assert.equal(err, reason);
      assert.equal(mock.requestsFor("m2").length, 1);
    },
  );
});
