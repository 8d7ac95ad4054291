import assert from "node:assert/strict";
import { startAppWithMock } from "./support/chat.ts";
import { call } from "./support/user_context_fixtures.ts";
import { registerUser } from "./support/users.ts";

/** The longest id a configured model may have (128 characters, every allowed punctuation). */
const LONGEST = "vendor/family:v1.2_rev-" + "x".repeat(128 - 23);
const SHORTEST = "m";

Deno.test("model ids: createChatbot and query accept and refuse the same ids", async (t) => {
  assert.equal(LONGEST.length, 128);
  const { h, close } = await startAppWithMock({
    [LONGEST]: { reply: "from the longest id" },
    [SHORTEST]: { reply: "from the shortest id" },
  }, { RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 1000, per_day: 10_000 } }) });
  try {
    const user = await registerUser(h);
    const query = (models: string[]) =>
      call(h, "POST", "/v1/query", user, { prompt: "hi", mode: "speed", models });
    const createChatbot = (models: string[]) =>
      call(h, "POST", "/v1/chatbots", user, { name: "Ids", models });

    await t.step("every id a configured model can have is accepted by both", async () => {
      for (const id of [LONGEST, SHORTEST]) {
        const bot = await createChatbot([id]);
        assert.equal(bot.status, 201, `${id}: ${JSON.stringify(bot.body)}`);
        assert.deepEqual(bot.body.models, [id]);
        const answered = await query([id]);
        assert.equal(answered.status, 200, `${id}: ${JSON.stringify(answered.body)}`);
        assert.equal(answered.body.answers[0].model, id);
      }
    });

    await t.step("an id no model can have is refused by both, as a validation error", async () => {
      for (const id of ["-leading-dash", "/leading-slash", "has space", LONGEST + "y", ""]) {
        const bot = await createChatbot([id]);
        assert.equal(bot.status, 422, `createChatbot ${JSON.stringify(id)}`);
        assert.equal(bot.body.error, "validation_error");
        const refused = await query([id]);
        assert.equal(refused.status, 422, `query ${JSON.stringify(id)}`);
        assert.equal(refused.body.error, "validation_error");
      }
    });

    await t.step("a well-formed id that is not configured is refused by both", async () => {
      const bot = await createChatbot(["not-configured"]);
      assert.equal(bot.status, 422);
      const refused = await query(["not-configured"]);
      assert.equal(refused.status, 422);
    });
  } finally {
    await close();
  }
});
