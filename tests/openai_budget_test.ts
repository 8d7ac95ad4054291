/**
 * The OpenAI-compatible endpoint goes through the same spend gate as `query`:
 * every model call is reserved before and settled after, and a refusal reaches
 * the `openai` SDK as its RateLimitError, in OpenAI's error shape.
 */
import assert from "node:assert/strict";
import OpenAI, { RateLimitError } from "openai";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("openai SDK: a budget refusal is an OpenAI-shaped 429; calls are reserved and settled", async (t) => {
  // Room for one small answer (prompt estimate + max_tokens 8), not for a default 1024-token cap.
  const h = await startTestApp({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { tokens_per_day: 200 } }),
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const { key } = await createKey(h, user);
    const openai = new OpenAI({
      baseURL: `http://127.0.0.1:${server.port}/openai/v1`,
      apiKey: key,
      maxRetries: 0,
    });
    const messages = [{ role: "user" as const, content: "hi" }];

    await t.step("a call within the quota is reserved, then settled at what it used", async () => {
      const completion = await openai.chat.completions.create({
        model: "echo-fast",
        messages,
        max_tokens: 8,
      });
      const used = completion.usage!.total_tokens;
      assert.ok(used > 0);
      const cost = (completion.usage as unknown as { cost_usd: number }).cost_usd;
      assert.ok(cost > 0, "echo-fast has nominal prices");
      const res = await h.json("GET", "/v1/usage/quotas", undefined, { token: key });
      assert.equal(res.status, 200);
      const { items } = await res.json();
      const tokens = items.find((i: { policy: string }) => i.policy === "tokens_per_day");
      assert.equal(tokens.used, used, "settled at the provider's counts");
      assert.equal(tokens.reserved, 0, "nothing left reserved");
      const [row] = await h.services.sql<{ usage_source: string; status: string }[]>`
        select usage_source, status from usage_records where user_id = ${user.id}`;
      assert.equal(row!.status, "complete");
      assert.equal(row!.usage_source, "provider");
    });

    for (const stream of [false, true]) {
      await t.step(`a refused reservation is RateLimitError (stream: ${stream})`, async () => {
        const error = await openai.chat.completions.create({ model: "echo-fast", messages, stream })
          .catch((e) => e);
        assert.ok(error instanceof RateLimitError, String(error));
        assert.equal(error.status, 429);
        assert.equal(error.code, "rate_limit_exceeded");
        assert.equal(error.type, "rate_limit_error");
        const detail = (error.error as { detail?: Record<string, unknown> }).detail!;
        assert.equal(detail.policy, "tokens_per_day");
        assert.equal(detail.scope, "user");
        assert.ok(Number(error.headers!.get("retry-after")) >= 1);
        assert.ok(error.requestID);
      });
    }

    await t.step("refused calls leave no usage row", async () => {
      const rows = await h.services.sql`select 1 from usage_records where user_id = ${user.id}`;
      assert.equal(rows.length, 1);
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});
