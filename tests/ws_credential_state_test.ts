import assert from "node:assert/strict";
import { CREDENTIAL_CACHE_MS } from "../src/auth/authenticator.ts";
import { startServer } from "../src/server.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { createChatbot } from "./support/user_context_fixtures.ts";
import { createKey, registerUser } from "./support/users.ts";
import { TestSocket, ticketFor, upgradeRequest } from "./support/ws_client.ts";

/** Another instance's cache (or this one's) has forgotten what it knew. */
const pastCache = () => new Promise((r) => setTimeout(r, CREDENTIAL_CACHE_MS + 100));

async function roll(h: TestApp, token: string, keyId: string, graceSeconds: number) {
  const res = await h.json("POST", `/v1/api-keys/${keyId}/roll`, {
    grace_seconds: graceSeconds,
  }, { token });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).key as string;
}

Deno.test("ws: a key rolled with grace_seconds 0 takes the old secret's ticket and socket with it", async (t) => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);

    await t.step("a ticket minted with the old secret no longer upgrades", async () => {
      const key = await createKey(h, user, { name: "rolled" });
      const ticket = await ticketFor(h, key.key);
      const fresh = await roll(h, user.accessToken, key.id, 0);
      await pastCache();
      const res = await upgradeRequest(h, ticket);
      assert.equal(res.status, 401, await res.clone().text());
      assert.equal((await res.json()).error, "unauthorized");
      // The new secret works as before.
      const socket = await TestSocket.open(server.port, await ticketFor(h, fresh));
      socket.send({ type: "ping" });
      await socket.until("pong");
      socket.close();
      await socket.closed;
    });

    await t.step(
      "a socket opened with the old secret stops answering and closes 1008",
      async () => {
        const key = await createKey(h, user, { name: "rolled while open" });
        const socket = await TestSocket.open(server.port, await ticketFor(h, key.key));
        socket.send({ type: "message", message: "before the roll" });
        await socket.until("done");
        await roll(h, user.accessToken, key.id, 0);
        // Without sending anything: the socket's own re-check closes it within 5 s.
        const closed = await socket.closedWithin(7_000);
        assert.equal(closed.code, 1008);
        assert.equal(socket.messages.filter((m) => m.type === "done").length, 0);
      },
    );

    await t.step("within a roll's grace the old secret's socket stays", async () => {
      const key = await createKey(h, user, { name: "graceful" });
      const socket = await TestSocket.open(server.port, await ticketFor(h, key.key));
      await roll(h, user.accessToken, key.id, 3600);
      await pastCache();
      socket.send({ type: "message", message: "still fine" });
      await socket.until("done");
      socket.close();
      await socket.closed;
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});

Deno.test("ws: a revoked key or ended session closes its socket with 1008 without a message", async () => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);
    const key = await createKey(h, user, { name: "revoked while idle" });
    const byKey = await TestSocket.open(server.port, await ticketFor(h, key.key));
    const bySession = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
    const revoke = await h.json("DELETE", `/v1/api-keys/${key.id}`, undefined, {
      token: user.accessToken,
    });
    assert.equal(revoke.status, 204);
    assert.equal((await byKey.closedWithin(7_000)).code, 1008);
    const logout = await h.json("POST", "/v1/auth/logout", undefined, {
      token: user.accessToken,
    });
    assert.equal(logout.status, 204, await logout.clone().text());
    assert.equal((await bySession.closedWithin(7_000)).code, 1008);
    assert.equal(byKey.messages.at(-1)?.error, "unauthorized");
  } finally {
    await server.shutdown();
    await h.close();
  }
});

Deno.test("ws: a demoted admin's socket loses the admin's reach at once and closes 1008", async () => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const admin = await registerUser(h, { role: "admin" });
    const otherAdmin = await registerUser(h, { role: "admin" });
    const owner = await registerUser(h);
    const bot = await createChatbot(h, owner, { name: "Owner's bot" });
    const key = await createKey(h, admin, { name: "admin socket", scopes: ["chat", "admin"] });
    const socket = await TestSocket.open(server.port, await ticketFor(h, key.key));
    socket.send({ type: "message", message: "as admin", chatbot_id: bot.id });
    await socket.until("done");

    const demote = await h.json("PATCH", `/v1/users/${admin.id}`, { role: "user" }, {
      token: otherAdmin.accessToken,
    });
    assert.equal(demote.status, 200, await demote.clone().text());
    await pastCache();
    socket.send({ type: "message", message: "still admin?", chatbot_id: bot.id });
    const [error] = (await socket.until("error")).filter((m) => m.type !== "pong");
    assert.equal(error!.type, "error");
    assert.equal(error!.error, "unauthorized");
    assert.equal((await socket.closedWithin(7_000)).code, 1008);
    const stored = await h.services.sql<{ n: number }[]>`
      select count(*)::int as n from conversations where chatbot_id = ${bot.id}`;
    assert.equal(stored[0]!.n, 1, "only the message sent as an admin was answered");
  } finally {
    await server.shutdown();
    await h.close();
  }
});
