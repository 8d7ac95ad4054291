import assert from "node:assert/strict";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";
import { TestSocket, ticketFor } from "./support/ws_client.ts";

Deno.test("ws: a frame over the limit closes the socket with 1009", async (t) => {
  // Frames may hold MAX_PROMPT_CHARS plus 4096 characters of envelope.
  const h = await startTestApp({ MAX_PROMPT_CHARS: "1000" });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const user = await registerUser(h);

    await t.step("a text frame", async () => {
      const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
      socket.send({ type: "message", message: "y".repeat(6_000) });
      const closed = await socket.closedWithin(5_000);
      assert.equal(closed.code, 1009);
      assert.equal(socket.messages.at(-1)?.error, "payload_too_large");
    });

    await t.step("a binary frame", async () => {
      const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
      socket.socket.send(new Uint8Array(6_000));
      assert.equal((await socket.closedWithin(5_000)).code, 1009);
    });

    await t.step("a frame within the limit is answered as before", async () => {
      const socket = await TestSocket.open(server.port, await ticketFor(h, user.accessToken));
      socket.send({ type: "message", message: "z".repeat(900) });
      await socket.until("done");
      socket.close();
      await socket.closed;
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});
