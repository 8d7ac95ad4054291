import assert from "node:assert/strict";
import { withDeadline } from "./abort.ts";
import { DEFAULT_ECHO_MODELS, EchoProvider, echoReply, splitWords } from "./echo_provider.ts";
import { ProviderError } from "./errors.ts";
import type { ChatMessage, CompletionRequest, StreamEvent } from "./provider.ts";

const messages: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "first question" },
  { role: "assistant", content: "first answer" },
  { role: "user", content: "hello  big world" },
];

function req(model: string, extra: Partial<CompletionRequest> = {}): CompletionRequest {
  return { model, messages, signal: new AbortController().signal, ...extra };
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function providerError(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, String(err));
    return err;
  }
  assert.fail("expected a ProviderError");
}

Deno.test("echo: replies deterministically to the last user message", async () => {
  const echo = new EchoProvider();
  const a = await echo.complete(req("echo-fast"));
  const b = await echo.complete(req("echo-smart", { temperature: 1.5 }));
  const expectedText = "Echo: hello  big world";
  assert.equal(echoReply(messages), expectedText);
  assert.deepEqual(a, {
    text: expectedText,
    finishReason: "stop",
    // ceil(chars / 4): prompt 14+14+12+16 chars → 4+4+3+4; reply 22 chars → 6
    usage: { input_tokens: 15, output_tokens: 6 },
  });
  assert.deepEqual(b, a);
});

Deno.test("echo: streams word by word and the words rebuild the reply", async () => {
  const events = await collect(new EchoProvider().stream(req("echo-smart")));
  const deltas = events.filter((e) => e.type === "delta").map((e) => e.text);
  assert.deepEqual(deltas, ["Echo: ", "hello  ", "big ", "world"]);
  assert.deepEqual(events.at(-1), {
    type: "done",
    finishReason: "stop",
    usage: { input_tokens: 15, output_tokens: 6 },
  });
  assert.equal(splitWords("  a\nb ").join(""), "  a\nb ");
  assert.deepEqual(splitWords(""), []);
});

Deno.test("echo: maxTokens truncates to maxTokens*4 chars with finish_reason length", async () => {
  const c = await new EchoProvider().complete(req("echo-fast", { maxTokens: 2 }));
  assert.equal(c.text, "Echo: he");
  assert.equal(c.finishReason, "length");
  assert.equal(c.usage.output_tokens, 2);
});

Deno.test("echo: abort interrupts a pending word delay immediately", async () => {
  const echo = new EchoProvider([{ id: "slow", rank: 1, wordDelayMs: 60_000 }]);
  const ac = new AbortController();
  const pending = echo.complete(req("slow", { signal: ac.signal }));
  ac.abort();
  const err = await providerError(pending);
  assert.equal(err.code, "aborted");
  assert.equal(err.name, "AbortError");
  // already aborted before the call
  assert.equal(
    (await providerError(echo.complete(req("slow", { signal: ac.signal })))).code,
    "aborted",
  );
  // zero-delay models check the signal too
  assert.equal(
    (await providerError(new EchoProvider().complete(req("echo-fast", { signal: ac.signal }))))
      .code,
    "aborted",
  );
});

Deno.test("echo: a deadline reason surfaces as a timeout", async () => {
  const echo = new EchoProvider([{ id: "slow", rank: 1, wordDelayMs: 60_000 }]);
  const deadline = withDeadline(new AbortController().signal, 10);
  try {
    const err = await providerError(echo.complete(req("slow", { signal: deadline.signal })));
    assert.equal(err.code, "timeout");
    assert.equal(err.name, "TimeoutError");
  } finally {
    deadline.dispose();
  }
});

Deno.test("echo: failure only when explicitly configured; unknown models rejected", async () => {
  assert.ok(DEFAULT_ECHO_MODELS.every((m) => m.failAfterWords === undefined));
  const echo = new EchoProvider([{
    id: "echo-broken",
    rank: 3,
    wordDelayMs: 0,
    failAfterWords: 1,
  }]);
  const seen: string[] = [];
  const err = await providerError((async () => {
    for await (const e of echo.stream(req("echo-broken"))) {
      if (e.type === "delta") seen.push(e.text);
    }
  })());
  assert.equal(err.code, "upstream_error");
  assert.deepEqual(seen, ["Echo: "]);
  assert.equal((await providerError(echo.complete(req("echo-fast")))).code, "bad_request");
});

Deno.test("echo: default models are development, rank smart above fast", () => {
  const echo = new EchoProvider();
  assert.equal(echo.development, true);
  assert.equal(echo.name, "echo");
  const byId = Object.fromEntries(DEFAULT_ECHO_MODELS.map((m) => [m.id, m]));
  assert.equal(byId["echo-smart"]!.rank, 1);
  assert.equal(byId["echo-fast"]!.rank, 2);
  assert.ok(byId["echo-smart"]!.wordDelayMs > byId["echo-fast"]!.wordDelayMs);
});
