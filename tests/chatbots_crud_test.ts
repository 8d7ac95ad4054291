import assert from "node:assert/strict";
import { call, createChatbot, startRoomyTestApp } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("chatbots: CRUD for owners", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const owner = await registerUser(h);
    let id = "";

    await t.step("createChatbot answers 201 with defaults", async () => {
      const res = await call(h, "POST", "/v1/chatbots", owner, { name: "Support" });
      assert.equal(res.status, 201);
      id = res.body.id;
      assert.equal(res.body.user_id, owner.id);
      assert.equal(res.body.description, null);
      assert.equal(res.body.system_prompt, null);
      assert.equal(res.body.temperature, null);
      assert.deepEqual(res.body.models, []);
      assert.deepEqual(res.body.context_fields, []);
      assert.equal(res.body.require_consent, false);
    });

    await t.step("every field round-trips; duplicates in lists collapse", async () => {
      const created = await createChatbot(h, owner, {
        name: "Full",
        description: "All fields",
        system_prompt: "Be brief.",
        models: ["echo-fast", "echo-fast", "echo-smart"],
        temperature: 0.5,
        context_fields: ["company", "language", "company"],
        require_consent: true,
      });
      assert.deepEqual(created.models, ["echo-fast", "echo-smart"]);
      assert.deepEqual(created.context_fields, ["company", "language"]);
      assert.equal(created.temperature, 0.5);
      assert.equal(created.require_consent, true);
    });

    await t.step("get, list, update and delete", async () => {
      const got = await call(h, "GET", `/v1/chatbots/${id}`, owner);
      assert.equal(got.status, 200);
      assert.equal(got.body.name, "Support");
      const list = await call(h, "GET", "/v1/chatbots?limit=1", owner);
      assert.equal(list.status, 200);
      assert.equal(list.body.total, 2);
      assert.equal(list.body.items.length, 1);
      const updated = await call(h, "PATCH", `/v1/chatbots/${id}`, owner, {
        system_prompt: "Answer in French.",
        temperature: 1.25,
      });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.system_prompt, "Answer in French.");
      assert.equal(updated.body.temperature, 1.25);
      assert.equal(updated.body.name, "Support");
      const cleared = await call(h, "PATCH", `/v1/chatbots/${id}`, owner, { temperature: null });
      assert.equal(cleared.body.temperature, null);
      assert.equal((await call(h, "DELETE", `/v1/chatbots/${id}`, owner)).status, 204);
      assert.equal((await call(h, "GET", `/v1/chatbots/${id}`, owner)).status, 404);
      assert.equal((await call(h, "DELETE", `/v1/chatbots/${id}`, owner)).status, 404);
    });

    await t.step("bounds are 422", async () => {
      const bad: Record<string, unknown>[] = [
        {},
        { name: "" },
        { name: "x".repeat(101) },
        { name: "ok", models: ["a", "b", "c", "d", "e", "f"] },
        { name: "ok", models: ["has space"] },
        { name: "ok", temperature: 2.01 },
        { name: "ok", temperature: -0.1 },
        { name: "ok", system_prompt: "p".repeat(8001) },
        { name: "ok", description: "d".repeat(1001) },
        { name: "ok", context_fields: Array.from({ length: 51 }, (_, i) => `f${i}`) },
        { name: "ok", context_fields: ["k".repeat(65)] },
        { name: "ok", require_consent: "yes" },
      ];
      for (const body of bad) {
        const res = await call(h, "POST", "/v1/chatbots", owner, body);
        assert.equal(res.status, 422, JSON.stringify(body).slice(0, 80));
      }
      const patch = await call(h, "PATCH", `/v1/chatbots/${crypto.randomUUID()}`, owner, {
        temperature: 3,
      });
      assert.equal(patch.status, 422);
    });

    await t.step("mass assignment: id, owner and timestamps are ignored", async () => {
      const stranger = await registerUser(h);
      const forgedId = crypto.randomUUID();
      const created = await createChatbot(h, owner, {
        name: "Forged",
        id: forgedId,
        user_id: stranger.id,
        created_at: "2000-01-01T00:00:00.000Z",
      });
      assert.notEqual(created.id, forgedId);
      assert.equal(created.user_id, owner.id);
      assert.ok(Date.parse(created.created_at as string) > Date.parse("2020-01-01"));
      const patched = await call(h, "PATCH", `/v1/chatbots/${created.id}`, owner, {
        name: "Renamed",
        id: forgedId,
        user_id: stranger.id,
        updated_at: "2000-01-01T00:00:00.000Z",
      });
      assert.equal(patched.status, 200);
      const [row] = await h.services.sql<{ id: string; user_id: string; name: string }[]>`
        select id, user_id, name from chatbots where id = ${created.id}`;
      assert.deepEqual({ ...row }, { id: created.id, user_id: owner.id, name: "Renamed" });
      const [forged] = await h.services.sql`select 1 from chatbots where id = ${forgedId}`;
      assert.equal(forged, undefined);
    });
  } finally {
    await h.close();
  }
});

Deno.test("chatbots: admins, scopes and chatbot-bound keys", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const owner = await registerUser(h);
    const other = await registerUser(h);
    const mine = await createChatbot(h, owner, { name: "Mine" });
    const sibling = await createChatbot(h, owner, { name: "Sibling" });
    const theirs = await createChatbot(h, other, { name: "Theirs" });

    await t.step("admins list, read, update and delete every chatbot", async () => {
      const list = await call(h, "GET", "/v1/chatbots", admin);
      assert.equal(list.body.total, 3);
      assert.equal((await call(h, "GET", `/v1/chatbots/${theirs.id}`, admin)).status, 200);
      const res = await call(h, "PATCH", `/v1/chatbots/${theirs.id}`, admin, { description: "ok" });
      assert.equal(res.status, 200);
      assert.equal(res.body.user_id, other.id);
    });

    await t.step("owners list only their own", async () => {
      const list = await call(h, "GET", "/v1/chatbots", owner);
      const ids = list.body.items.map((b: { id: string }) => b.id).sort();
      assert.deepEqual(ids, [mine.id, sibling.id].sort());
    });

    await t.step("scopes: chatbots:read to read, chatbots:write to change", async () => {
      const reader = await createKey(h, owner, { name: "r", scopes: ["chatbots:read"] });
      assert.equal((await call(h, "GET", "/v1/chatbots", reader.key)).status, 200);
      assert.equal((await call(h, "POST", "/v1/chatbots", reader.key, { name: "n" })).status, 403);
      const patch = await call(h, "PATCH", `/v1/chatbots/${mine.id}`, reader.key, { name: "n" });
      assert.equal(patch.status, 403);
      assert.equal((await call(h, "DELETE", `/v1/chatbots/${mine.id}`, reader.key)).status, 403);
      const none = await createKey(h, owner, { name: "q", scopes: ["query"] });
      assert.equal((await call(h, "GET", "/v1/chatbots", none.key)).status, 403);
      assert.equal((await call(h, "GET", `/v1/chatbots/${mine.id}`, none.key)).status, 403);
    });

    await t.step("a chatbot-bound key reaches only its chatbot", async () => {
      const bound = await createKey(h, owner, {
        name: "b",
        chatbot_id: mine.id,
        scopes: ["query", "chatbots:read"],
      });
      assert.equal((await call(h, "GET", `/v1/chatbots/${mine.id}`, bound.key)).status, 200);
      for (const id of [sibling.id, theirs.id]) {
        assert.equal((await call(h, "GET", `/v1/chatbots/${id}`, bound.key)).status, 404);
      }
      // A bound key never holds chatbots:write: not even its own chatbot changes.
      for (const id of [mine.id, sibling.id, theirs.id]) {
        const patch = await call(h, "PATCH", `/v1/chatbots/${id}`, bound.key, { name: "x" });
        assert.equal(patch.status, 403);
        assert.equal((await call(h, "DELETE", `/v1/chatbots/${id}`, bound.key)).status, 403);
      }
      const list = await call(h, "GET", "/v1/chatbots", bound.key);
      assert.deepEqual(list.body.items.map((b: { id: string }) => b.id), [mine.id]);
      assert.equal((await call(h, "POST", "/v1/chatbots", bound.key, { name: "n" })).status, 403);
      assert.equal(
        (await call(h, "GET", `/v1/chatbots/${sibling.id}`, owner)).body.name,
        "Sibling",
      );
    });

    await t.step("deleting a chatbot revokes the keys bound to it", async () => {
      const bound = await createKey(h, owner, { name: "b2", chatbot_id: sibling.id });
      assert.equal((await call(h, "GET", "/v1/auth/whoami", bound.key)).status, 200);
      assert.equal((await call(h, "DELETE", `/v1/chatbots/${sibling.id}`, owner)).status, 204);
      assert.equal((await call(h, "GET", "/v1/auth/whoami", bound.key)).status, 401);
    });

    await t.step("models are checked against the model registry", async () => {
      const bad = await call(h, "POST", "/v1/chatbots", owner, {
        name: "n",
        models: ["echo-fast", "imaginary-1"],
      });
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.body.detail.issues[0].path, ["models"]);
      assert.match(bad.body.detail.issues[0].message, /imaginary-1/);
      const patch = await call(h, "PATCH", `/v1/chatbots/${mine.id}`, owner, {
        models: ["imaginary-2"],
      });
      assert.equal(patch.status, 422);
      await createChatbot(h, owner, { name: "n", models: ["echo-smart"] });
    });
  } finally {
    await h.close();
  }
});
