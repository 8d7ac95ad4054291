import assert from "node:assert/strict";
import { isDatabaseUnavailable } from "../src/db/unavailable.ts";
import { startAppBehindProxy } from "./support/proxied_database.ts";

/** The shared app behind a cuttable proxy, with a request helper for tokens and keys. */
async function appBehindProxy() {
  const base = await startAppBehindProxy();
  const { app } = base;
  const json = (method: string, path: string, body?: unknown, token?: string) => {
    const headers = new Headers();
    if (body !== undefined) headers.set("content-type", "application/json");
    if (token) {
      headers.set(
        token.startsWith("gate_") ? "x-api-key" : "authorization",
        token.startsWith("gate_") ? token : `Bearer ${token}`,
      );
    }
    return Promise.resolve(app.request(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }, { remoteAddr: { hostname: "203.0.113.77" } }));
  };
  return { ...base, json };
}

async function expect503(res: Response, what: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, 503, `${what}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.error, "service_unavailable", what);
  assert.equal(typeof body.message, "string");
  assert.equal(typeof body.request_id, "string");
}

Deno.test("every operation that needs the database answers 503 service_unavailable while it is unreachable", async () => {
  const h = await appBehindProxy();
  try {
    const email = `down-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = `quiet-harbor-${crypto.randomUUID().slice(0, 12)}`;
    const reg = await h.json("POST", "/v1/auth/register", {
      email,
      password,
      display_name: "Down",
    });
    assert.equal(reg.status, 201, await reg.clone().text());
    const { access_token: token } = await reg.json();
    const keyRes = await h.json("POST", "/v1/api-keys", { name: "down key" }, token);
    assert.equal(keyRes.status, 201);
    const { key } = await keyRes.json();

    // Like a stopped Postgres: the port refuses connections.
    h.proxy.cut("refuse");
    // The auth path itself must reach the database (no cached credentials).
    h.services.authenticator.forgetAll();

    await expect503(await h.json("GET", "/v1/auth/me", undefined, token), "me (JWT)");
    await expect503(await h.json("GET", "/v1/auth/me", undefined, key), "me (API key)");
    await expect503(await h.json("POST", "/v1/auth/login", { email, password }), "login");
    await expect503(
      await h.json("POST", "/v1/auth/register", {
        email: `x-${email}`,
        password,
        display_name: "Other",
      }),
      "register",
    );
    await expect503(
      await h.json("POST", "/v1/auth/refresh", { refresh_token: "rt_" + "a".repeat(43) }),
      "refresh",
    );
    assert.ok(!h.log.text().includes("unhandled error"), "no 500 was logged");

    h.proxy.restore();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      const res = await h.json("GET", "/v1/auth/me", undefined, token);
      status = res.status;
      await res.body?.cancel();
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "operations recover once the database is back");
  } finally {
    await h.close();
  }
});

Deno.test("connection-level errors are recognised as the database being unavailable", () => {
  const codes = ["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECT_TIMEOUT", "ECONNREFUSED"];
  for (const code of codes) {
    assert.ok(isDatabaseUnavailable(Object.assign(new Error(code), { code })), code);
  }
  const wrapped = new Error("query failed", {
    cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }),
  });
  assert.ok(isDatabaseUnavailable(wrapped));
  assert.ok(isDatabaseUnavailable(new Deno.errors.ConnectionRefused("refused")));
  assert.ok(isDatabaseUnavailable(Object.assign(new Error("shutdown"), { code: "57P01" })));
  // A query the database refused is not an outage.
  assert.ok(!isDatabaseUnavailable(Object.assign(new Error("dup"), { code: "23505" })));
  assert.ok(!isDatabaseUnavailable(new Error("plain")));
});
