import assert from "node:assert/strict";
import type { Principal } from "../src/principal.ts";
import type { UserContext } from "../src/context/user_context.ts";
import { titleFrom } from "../src/chat/persist.ts";
import { assemblePrompt, oneReplyPerTurn, withinBudget } from "../src/chat/prompt.ts";
import { StreamLimiter } from "../src/chat/stream_limiter.ts";
import { ApiError } from "../src/errors.ts";

const context: UserContext = {
  user_id: "00000000-0000-4000-8000-000000000001",
  user_profile: { company: "Analytical Engines" },
  preferences: {},
  session_data: null,
  conversation_context: [],
  consents: [],
  timestamp: "2026-11-23T12:00:00.000Z",
};

Deno.test("prompt: system prompt and user context, then history, then the message", () => {
  const messages = assemblePrompt({
    systemPrompt: "You are Helper.",
    userContext: context,
    history: [{ role: "user", content: "earlier" }, { role: "assistant", content: "reply" }],
    message: "now",
  });
  assert.equal(messages[0]!.role, "system");
  assert.match(messages[0]!.content, /^You are Helper\.\n\n/);
  assert.match(messages[0]!.content, /"company":"Analytical Engines"/);
  assert.deepEqual(messages.slice(1), [
    { role: "user", content: "earlier" },
    { role: "assistant", content: "reply" },
    { role: "user", content: "now" },
  ]);
  const bare = assemblePrompt({
    systemPrompt: null,
    userContext: null,
    history: [],
    message: "hi",
  });
  assert.deepEqual(bare, [{ role: "user", content: "hi" }]);
});

Deno.test("prompt: one reply per turn (the selected answer is stored first)", () => {
  const history = oneReplyPerTurn([
    { role: "system", content: "old system" },
    { role: "user", content: "q1" },
    { role: "assistant", content: "selected" },
    { role: "assistant", content: "alternative" },
    { role: "user", content: "q2" },
    { role: "assistant", content: "a2" },
  ]);
  assert.deepEqual(history.map((m) => m.content), ["q1", "selected", "q2", "a2"]);
});

Deno.test("prompt: history keeps the newest messages within the token budget", () => {
  const history = [
    { role: "user" as const, content: "a".repeat(400) },
    { role: "assistant" as const, content: "b".repeat(400) },
    { role: "user" as const, content: "c".repeat(40) },
    { role: "assistant" as const, content: "d".repeat(40) },
  ];
  // 100 tokens each for the old pair, 10 each for the new one.
  assert.equal(withinBudget(history, 1000).length, 4);
  assert.deepEqual(withinBudget(history, 115).map((m) => m.content[0]), ["c", "d"]);
  // "b" fits this budget, but history never starts on an assistant message.
  assert.deepEqual(withinBudget(history, 120).map((m) => m.content[0]), ["c", "d"]);
  assert.deepEqual(withinBudget(history, 15), []);
});

Deno.test("persist: titles are the first message on one line, shortened", () => {
  assert.equal(titleFrom("  Hello\n\tworld  "), "Hello world");
  const long = titleFrom("word ".repeat(40));
  assert.ok(long.length <= 80);
  assert.ok(long.endsWith("…"));
  assert.equal(titleFrom("   "), "Untitled");
});

Deno.test("stream limiter: per user across sessions and keys, released once", () => {
  const limiter = new StreamLimiter(2);
  const user: Principal = { type: "user", userId: "u1", role: "user", tier: "free", scopes: [] };
  const key: Principal = { ...user, type: "api_key", apiKeyId: "k1" };
  const a = limiter.acquire(user);
  limiter.acquire(key);
  for (const caller of [user, key]) {
    assert.throws(() => limiter.acquire(caller), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 429);
      assert.equal(error.headers?.["Retry-After"], "1");
      assert.equal(error.detail?.scope, "user");
      return true;
    });
  }
  limiter.acquire({ ...user, userId: "u2" }); // another user is unaffected
  a();
  a();
  assert.equal(limiter.openFor(user), 1);
  limiter.acquire(user);
  assert.equal(limiter.openFor(key), 2);
});
