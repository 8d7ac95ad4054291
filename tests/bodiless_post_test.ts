import assert from "node:assert/strict";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

/** One raw HTTP/1.1 request over TCP, framed exactly as given (curl -X POST sends no body). */
async function rawRequest(
  port: number,
  head: string,
  body = "",
): Promise<{ status: number; headers: Headers; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head + "Connection: close\r\n\r\n" + body));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
    );
    const [headText, ...rest] = text.split("\r\n\r\n");
    const [statusLine, ...headerLines] = headText!.split("\r\n");
    const headers = new Headers();
    for (const line of headerLines) {
      const i = line.indexOf(":");
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    return { status: Number(statusLine!.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    try {
      conn.close();
    } catch { /* already closed by the server */ }
  }
}

Deno.test("bodiless POSTs: optional bodies accept an empty body however it is framed", async (t) => {
  const h = await startTestApp();
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const port = server.port;
  try {
    const user = await registerUser(h);
    const auth = `Authorization: Bearer ${user.accessToken}\r\n`;
    const host = `Host: 127.0.0.1:${port}\r\n`;

    await t.step("createWsTicket with no Content-Length and no body (curl -X POST)", async () => {
      const res = await rawRequest(port, `POST /v1/chat/ws-ticket HTTP/1.1\r\n${host}${auth}`);
      assert.equal(res.status, 201, res.body);
      assert.ok(JSON.parse(res.body).ticket);
    });

    await t.step("createWsTicket with an empty chunked body", async () => {
      const res = await rawRequest(
        port,
        `POST /v1/chat/ws-ticket HTTP/1.1\r\n${host}${auth}Transfer-Encoding: chunked\r\n`,
        "0\r\n\r\n",
      );
      assert.equal(res.status, 201, res.body);
    });

    await t.step("rollApiKey with no body rolls (default grace 0)", async () => {
      const key = await createKey(h, user, { name: "to roll", scopes: ["query"] });
      const res = await rawRequest(
        port,
        `POST /v1/api-keys/${key.id}/roll HTTP/1.1\r\n${host}${auth}`,
      );
      assert.equal(res.status, 200, res.body);
      const rolled = JSON.parse(res.body);
      assert.notEqual(rolled.key, key.key);
    });

    await t.step(
      "rollApiKey with Content-Type: application/json and Content-Length: 0",
      async () => {
        const key = await createKey(h, user, { name: "to roll 2", scopes: ["query"] });
        const res = await rawRequest(
          port,
          `POST /v1/api-keys/${key.id}/roll HTTP/1.1\r\n${host}${auth}Content-Type: application/json\r\nContent-Length: 0\r\n`,
        );
        assert.equal(res.status, 200, res.body);
      },
    );

    await t.step("a body that is not JSON is still 415", async () => {
      const res = await rawRequest(
        port,
        `POST /v1/chat/ws-ticket HTTP/1.1\r\n${host}${auth}Content-Type: text/plain\r\nContent-Length: 2\r\n`,
        "hi",
      );
      assert.equal(res.status, 415);
      assert.equal(JSON.parse(res.body).error, "unsupported_media_type");
    });

    await t.step("a required body left out is 422 with detail.issues, not 415", async () => {
      const res = await rawRequest(port, `POST /v1/chatbots HTTP/1.1\r\n${host}${auth}`);
      assert.equal(res.status, 422, res.body);
      assert.ok(JSON.parse(res.body).detail.issues.length > 0);
    });

    await t.step("a bodiless POST on a GET-only path is 405 with Allow", async () => {
      const res = await rawRequest(port, `POST /v1/auth/whoami HTTP/1.1\r\n${host}${auth}`);
      assert.equal(res.status, 405, res.body);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
      assert.equal(JSON.parse(res.body).error, "method_not_allowed");
    });

    await t.step("a POST with a text body on a GET-only path is 405 too", async () => {
      const res = await rawRequest(
        port,
        `POST /v1/models HTTP/1.1\r\n${host}${auth}Content-Type: text/plain\r\nContent-Length: 2\r\n`,
        "hi",
      );
      assert.equal(res.status, 405, res.body);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    });

    await t.step("logout with no body ends the session (last: it revokes the token)", async () => {
      const res = await rawRequest(port, `POST /v1/auth/logout HTTP/1.1\r\n${host}${auth}`);
      assert.equal(res.status, 204, res.body);
      // The session is gone (the revocation cache is bypassed on this instance).
      const rows = await h.services.sql`
        select revoked_at from sessions where user_id = ${user.id}`;
      assert.ok(rows.every((r) => r.revoked_at !== null));
    });
  } finally {
    await server.shutdown();
    await h.close();
  }
});
