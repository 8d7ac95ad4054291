import assert from "node:assert/strict";
import { ProviderError } from "../src/llm/errors.ts";
import { OpenAIProvider } from "../src/llm/openai_provider.ts";
import type { CompletionRequest, StreamEvent } from "../src/llm/provider.ts";
import { withDeadline } from "../src/llm/abort.ts";
import { type MockOpenAI, startMockOpenAI } from "./support/mock_openai_server.ts";

function provider(mock: MockOpenAI, apiKey: string | undefined = mock.apiKey) {
  return new OpenAIProvider({ name: "mock", baseUrl: mock.baseUrl, apiKey, timeoutMs: 10_000 });
}

function request(model: string, signal = new AbortController().signal): CompletionRequest {
  return {
    model,
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi there" }],
    temperature: 0.2,
    maxTokens: 50,
    signal,
  };
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

Deno.test("openai provider: complete maps text, finish_reason, usage and sends the request", async () => {
  const mock = startMockOpenAI({
    models: { m1: { reply: "Hello world", usage: { prompt_tokens: 12, completion_tokens: 3 } } },
  });
  try {
    const c = await provider(mock).complete(request("m1"));
    assert.deepEqual(c, {
      text: "Hello world",
      finishReason: "stop",
      usage: { input_tokens: 12, output_tokens: 3 },
    });
    const [r] = mock.requests;
    assert.equal(r!.authorization, "Bearer test-key");
    assert.equal(r!.stream, false);
    assert.equal(r!.body!.temperature, 0.2);
    assert.equal(r!.body!.max_completion_tokens, 50);
    assert.deepEqual(r!.body!.messages, request("m1").messages);
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: stream yields deltas then done with reported usage", async () => {
  const mock = startMockOpenAI({
    models: { m1: { reply: "one two three", finishReason: "length" } },
  });
  try {
    const events = await collect(provider(mock).stream(request("m1")));
    assert.deepEqual(events, [
      { type: "delta", text: "one " },
      { type: "delta", text: "two " },
      { type: "delta", text: "three" },
      // mock usage: prompt = chars of all messages (8 + 8), completion = chunk count
      { type: "done", finishReason: "length", usage: { input_tokens: 16, output_tokens: 3 } },
    ]);
    assert.equal(mock.requests[0]!.includeUsage, true);
    assert.equal(mock.requests[0]!.stream, true);
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: abort mid-stream reaches the server", async () => {
  const mock = startMockOpenAI({
    models: { slow: { reply: "a b c d e f g h", chunkDelayMs: 30 } },
  });
  try {
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const e of provider(mock).stream(request("slow", ac.signal))) {
          if (e.type === "delta") seen.push(e.text);
          if (seen.length === 2) ac.abort();
        }
      })(),
      "aborted",
    );
    assert.equal(err.name, "AbortError");
    assert.deepEqual(seen, ["a ", "b "]);
    assert.equal(await mock.requests[0]!.settled, "aborted");
    assert.ok(mock.requests[0]!.chunksSent < 8);
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: estimates usage when the upstream reports none", async () => {
  const mock = startMockOpenAI({ models: { m1: { reply: "twelve chars", usage: false } } });
  try {
    // estimate: ceil(chars / 4) — prompt "be brief" + "hi there" = 2 + 2, reply 12 chars = 3
    const expected = { input_tokens: 4, output_tokens: 3 };
    assert.deepEqual((await provider(mock).complete(request("m1"))).usage, expected);
    const events = await collect(provider(mock).stream(request("m1")));
    // Flagged as an estimate, so the ledger records usage_source "estimated".
    assert.deepEqual(events.at(-1), {
      type: "done",
      finishReason: "stop",
      usage: expected,
      usageEstimated: true,
    });
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: maps HTTP errors to typed ProviderError codes", async () => {
  const mock = startMockOpenAI({
    models: {
      broken: { status: 500, errorMessage: "kaboom" },
      limited: { status: 429, errorMessage: "slow down" },
    },
  });
  try {
    const p = provider(mock);
    const e500 = await rejectsWith(p.complete(request("broken")), "upstream_error");
    assert.equal(e500.status, 500);
    assert.match(e500.message, /kaboom/);
    assert.equal(e500.provider, "mock");
    const e429 = await rejectsWith(collect(p.stream(request("limited"))), "rate_limited");
    assert.equal(e429.status, 429);
    const e404 = await rejectsWith(p.complete(request("nope")), "bad_request");
    assert.equal(e404.status, 404);
    // maxRetries 0: the router's fallback is the retry policy
    assert.equal(mock.requestsFor("broken").length, 1);
    assert.equal(mock.requestsFor("limited").length, 1);
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: auth errors never expose the API key", async () => {
  const mock = startMockOpenAI({ models: { m1: {} } });
  const key = "sk-proj-VerySecretKey0123456789";
  try {
    const err = await rejectsWith(provider(mock, key).complete(request("m1")), "auth_failed");
    assert.equal(err.status, 401);
    assert.ok(mock.requests[0]!.authorization?.includes(key), "server saw the key");
    for (const text of [err.message, String(err), err.stack ?? "", JSON.stringify(err)]) {
      assert.ok(!text.includes(key), `leaked in: ${text}`);
      assert.ok(!text.includes("VerySecret"), `partially leaked in: ${text}`);
    }
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: mid-stream failures are upstream errors", async () => {
  const mock = startMockOpenAI({
    models: {
      event: { reply: "a b c d", failAfterChunks: 2, errorMessage: "overloaded" },
      cut: { reply: "a b c d", failAfterChunks: 2, failWith: "truncate" },
    },
  });
  try {
    const deltas: string[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const e of provider(mock).stream(request("event"))) {
          if (e.type === "delta") deltas.push(e.text);
        }
      })(),
      "upstream_error",
    );
    assert.deepEqual(deltas, ["a ", "b "]);
    assert.match(err.message, /overloaded/);
    await rejectsWith(collect(provider(mock).stream(request("cut"))), "upstream_error");
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: unreachable upstream is a connection_error", async () => {
  const mock = startMockOpenAI({ models: {} });
  await mock.close();
  await rejectsWith(provider(mock).complete(request("m1")), "connection_error");
});

Deno.test("openai provider: deadline aborts a hanging upstream as timeout", async () => {
  const mock = startMockOpenAI({ models: { hang: { hang: true } } });
  try {
    for (const streaming of [false, true]) {
      const deadline = withDeadline(new AbortController().signal, 300);
      try {
        const call = streaming
          ? collect(provider(mock).stream(request("hang", deadline.signal)))
          : provider(mock).complete(request("hang", deadline.signal));
        const err = await rejectsWith(call, "timeout");
        assert.equal(err.name, "TimeoutError");
      } finally {
        deadline.dispose();
      }
    }
    assert.equal(mock.requests.length, 2);
    for (const r of mock.requests) assert.equal(await r.settled, "aborted");
  } finally {
    await mock.close();
  }
});

Deno.test("openai provider: caller abort of a non-streaming call reaches the server", async () => {
  const mock = startMockOpenAI({ models: { hang: { hang: true } } });
  try {
    const ac = new AbortController();
    const call = provider(mock).complete(request("hang", ac.signal));
    await mock.waitForRequests(1);
    ac.abort();
    await rejectsWith(call, "aborted");
    assert.equal(await mock.requests[0]!.settled, "aborted");
    // already-aborted signal: fails fast without a request
    await rejectsWith(provider(mock).complete(request("hang", ac.signal)), "aborted");
  } finally {
    await mock.close();
  }
});
