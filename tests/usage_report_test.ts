import assert from "node:assert/strict";
import { startAppWithMock } from "./support/chat.ts";
import { call, type Json } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";

const today = () => new Date().toISOString().slice(0, 10);
const dayOffset = (days: number) =>
  new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

Deno.test("usage: every model call is recorded and reported", async (t) => {
  const { h, close } = await startAppWithMock({
    "m-good": { reply: "three word answer", usage: { prompt_tokens: 100, completion_tokens: 10 } },
    "m-broken": { status: 500 },
  });
  try {
    const ada = await registerUser(h);
    const key = await createKey(h, ada, { name: "reporting" });

    await t.step(
      "each call writes a row: principal, key, model, tokens, cost, status",
      async () => {
        const quality = await call(h, "POST", "/v1/query", ada, {
          prompt: "both",
          mode: "quality",
          models: ["m-good", "m-broken"],
        });
        assert.equal(quality.status, 200);
        const viaKey = await call(h, "POST", "/v1/query", key.key, {
          prompt: "key",
          mode: "balanced",
          models: ["m-good"],
        });
        assert.equal(viaKey.status, 200);
        const rows = await h.services.sql<Json[]>`
        select user_id, api_key_id, model, conversation_id, input_tokens, output_tokens,
               cost_usd::float8 as cost_usd, latency_ms, status
        from usage_records where user_id = ${ada.id} order by occurred_at, model desc`;
        assert.equal(rows.length, 3);
        const good = rows.find((r) => r.model === "m-good" && r.api_key_id === null)!;
        assert.equal(good.input_tokens, 100);
        assert.equal(good.output_tokens, 10);
        // 100 tokens at $1/M plus 10 at $2/M.
        assert.equal(good.cost_usd, 0.00012);
        assert.equal(good.status, "complete");
        assert.equal(good.conversation_id, quality.body.conversation_id);
        assert.ok(good.latency_ms >= 0);
        const broken = rows.find((r) => r.model === "m-broken")!;
        assert.equal(broken.status, "error");
        // The prompt went upstream: estimated ("both" = 1 token), nothing delivered.
        assert.equal(broken.input_tokens, 1);
        assert.equal(broken.output_tokens, 0);
        assert.equal(broken.cost_usd, 0.000001);
        const keyed = rows.find((r) => r.api_key_id !== null)!;
        assert.equal(keyed.api_key_id, key.id);
        assert.equal(keyed.conversation_id, viaKey.body.conversation_id);
      },
    );

    await t.step("group_by=day (the default)", async () => {
      const res = await call(h, "GET", "/v1/usage", ada);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items, [{
        key: today(),
        requests: 3,
        input_tokens: 201,
        output_tokens: 20,
        cost_usd: 0.000241,
      }]);
    });

    await t.step("group_by=model and group_by=api_key", async () => {
      const byModel = await call(h, "GET", "/v1/usage?group_by=model", ada);
      assert.deepEqual(byModel.body.items.map((r: Json) => [r.key, r.requests]), [
        ["m-good", 2],
        ["m-broken", 1],
      ]);
      const byKey = await call(h, "GET", "/v1/usage?group_by=api_key", ada);
      const rows = Object.fromEntries(byKey.body.items.map((r: Json) => [r.key, r.requests]));
      assert.deepEqual(rows, { [key.id]: 1, null: 2 });
    });

    await t.step("from and to bound the range (a bare `to` date includes that day)", async () => {
      const inRange = await call(h, "GET", `/v1/usage?from=${today()}&to=${today()}`, ada);
      assert.equal(inRange.body.items[0].requests, 3);
      const future = await call(h, "GET", `/v1/usage?from=${dayOffset(1)}&to=${dayOffset(2)}`, ada);
      assert.deepEqual(future.body.items, []);
      const past = await call(h, "GET", `/v1/usage?to=${dayOffset(-1)}`, ada);
      assert.deepEqual(past.body.items, []);
      const exclusive = await call(h, "GET", `/v1/usage?to=${today()}T00:00:00Z`, ada);
      assert.deepEqual(exclusive.body.items, []);
    });

    await t.step("bad parameters are 422", async () => {
      for (
        const query of [
          "group_by=week",
          "from=yesterday",
          `from=${dayOffset(1)}&to=${today()}`,
          `from=${dayOffset(-800)}&to=${today()}`,
          "user_id=nope",
        ]
      ) {
        const res = await call(h, "GET", `/v1/usage?${query}`, ada);
        assert.equal(res.status, 422, query);
      }
    });

    await t.step("only admins read another user's usage; usage:read is required", async () => {
      const eve = await registerUser(h);
      const denied = await call(h, "GET", `/v1/usage?user_id=${ada.id}`, eve);
      assert.equal(denied.status, 403);
      assert.deepEqual((await call(h, "GET", "/v1/usage", eve)).body.items, []);
      const admin = await registerUser(h, { role: "admin" });
      const allowed = await call(h, "GET", `/v1/usage?user_id=${ada.id}&group_by=model`, admin);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.body.items.length, 2);
      const noScope = await createKey(h, ada, { name: "no usage", scopes: ["query"] });
      assert.equal((await call(h, "GET", "/v1/usage", noScope.key)).status, 403);
    });

    await t.step("erasing the user keeps the rows but not who made them", async () => {
      const del = await call(h, "DELETE", `/v1/users/${ada.id}`, ada);
      assert.equal(del.status, 204, JSON.stringify(del.body));
      const [left] = await h.services.sql<{ n: number; named: number }[]>`
        select count(*)::int as n,
               count(*) filter (where user_id is not null or api_key_id is not null)::int as named
        from usage_records`;
      assert.equal(left!.n, 3);
      assert.equal(left!.named, 0);
    });
  } finally {
    await close();
  }
});
