import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import type { App } from "../src/http/env.ts";
import { loadConfig } from "../src/config.ts";
import { startEmbeddedPostgres } from "../src/db/embedded.ts";
import { isDatabaseUnavailable } from "../src/db/unavailable.ts";
import { createServices, type Services } from "../src/services.ts";
import { captureLogger, TEST_DATABASE_URL, testEnv } from "./support/harness.ts";
import { startTcpProxy } from "./support/tcp_proxy.ts";

/**
 * An app whose database sits behind a proxy the test can cut: Postgres in CI
 * mode, the embedded PGlite (served on its loopback port) otherwise.
 */
async function appBehindProxy() {
  const embedded = TEST_DATABASE_URL ? undefined : await startEmbeddedPostgres("memory://");
  const target = TEST_DATABASE_URL
    ? new URL(TEST_DATABASE_URL)
    : new URL(`postgres://postgres@${embedded!.host}:${embedded!.port}/postgres`);
  const proxy = startTcpProxy(target.hostname, Number(target.port || 5432));
  const proxied = new URL(target);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(proxy.port);
  const env = testEnv({
    DATABASE_URL: proxied.toString(),
    DATABASE_POOL_MAX: "1",
    READINESS_TIMEOUT_MS: "300",
    JWT_SECRET: "y".repeat(40),
    RATE_LIMIT_BACKEND: "memory",
  });
  delete env.DATA_DIR;
  const { logger, captured } = captureLogger();
  const schema = `gh_test_down_${crypto.randomUUID().slice(0, 8)}`;
  const setup = await createServices(loadConfig(env), { log: logger, skipMigrations: true });
  await setup.sql.unsafe(`create schema ${schema}`);
  await setup.close();
  const services: Services = await createServices(loadConfig(env), { log: logger, schema });
  const app: App = createApp(services);
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
  return {
    app,
    services,
    proxy,
    log: captured,
    json,
    close: async () => {
      proxy.restore();
      await services.sql.unsafe(`drop schema if exists ${schema} cascade`).catch(() => {});
      await services.close();
      await proxy.close();
      await embedded?.close();
    },
  };
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
