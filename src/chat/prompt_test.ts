import assert from "node:assert/strict";
import type { UserContext } from "../context/user_context.ts";
import { assemblePrompt, oneReplyPerTurn, withinBudget } from "./prompt.ts";

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
