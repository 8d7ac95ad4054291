import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { startEmbeddedPostgres } from "../src/db/embedded.ts";
import { createServices } from "../src/services.ts";
import { captureLogger, startTestApp, TEST_DATABASE_URL, testEnv } from "./support/harness.ts";
import { startTcpProxy } from "./support/tcp_proxy.ts";

Deno.test("health endpoints", async (t) => {
  const h = await startTestApp();
  try {
    await t.step("liveness touches nothing and says alive", async () => {
      const res = await h.request("/health/live");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "alive" });
    });

    await t.step("readiness is ready with a database", async () => {
      const res = await h.request("/health/ready");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ready" });
    });

    await t.step("health reports components with status and latency", async () => {
      const res = await h.request("/health");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.status, "healthy");
      assert.equal(typeof body.version, "string");
      assert.equal(typeof body.uptime_s, "number");
      assert.equal(body.components.database.status, "up");
      assert.equal(typeof body.components.database.latency_ms, "number");
    });

    await t.step("readiness is 503 while draining", async () => {
      h.services.lifecycle.beginDrain();
      const res = await h.request("/health/ready");
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: "not_ready", reason: "draining" });
      const live = await h.request("/health/live");
      assert.equal(live.status, 200);
      await live.body?.cancel();
    });
  } finally {
    await h.close();
  }
});

Deno.test("readiness follows the database down and back up without a restart", async () => {
  // A proxy in front of the real database lets the test cut it off.
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
    JWT_SECRET: "x".repeat(40),
    RATE_LIMIT_BACKEND: "memory",
  });
  delete env.DATA_DIR;
  const { logger } = captureLogger();
  const schema = `gh_test_ready_${crypto.randomUUID().slice(0, 8)}`;
  const setup = await createServices(loadConfig(env), { log: logger, skipMigrations: true });
  await setup.sql.unsafe(`create schema ${schema}`);
  await setup.close();
  const services = await createServices(loadConfig(env), { log: logger, schema });
  const app = createApp(services);
  try {
    const first = await app.request("/health/ready");
    assert.equal(first.status, 200);
    await first.body?.cancel();

    proxy.cut();
    const down = await app.request("/health/ready");
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { status: "not_ready", reason: "database_unreachable" });
    const health = await app.request("/health");
    assert.equal(health.status, 503);
    const body = await health.json();
    assert.equal(body.status, "unhealthy");
    assert.equal(body.components.database.status, "down");

    proxy.restore();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      const res = await app.request("/health/ready");
      status = res.status;
      await res.body?.cancel();
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "readiness recovers once the database is back");
  } finally {
    await services.sql.unsafe(`drop schema if exists ${schema} cascade`).catch(() => {});
    await services.close();
    await proxy.close();
    await embedded?.close();
  }
});
