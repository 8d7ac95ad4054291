import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";
import type { App } from "../../src/http/env.ts";
import { createServices, type Services } from "../../src/services.ts";
import { type CapturedLog, captureLogger, TEST_DATABASE_URL, testEnv } from "./harness.ts";
import { startTcpProxy, type TcpProxy } from "./tcp_proxy.ts";

export interface AppBehindProxy {
  app: App;
  services: Services;
  /** The TCP proxy between the app and its database: `cut()` it to take the database away. */
  proxy: TcpProxy;
  log: CapturedLog;
  close(): Promise<void>;
}

/**
 * An app whose database sits behind a proxy the test can cut: the real Postgres in CI mode,
 * the embedded PGlite (served on its loopback port) otherwise. One pooled connection and a
 * short readiness timeout, so losing the database shows at once.
 */
export async function startAppBehindProxy(): Promise<AppBehindProxy> {
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
    JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    RATE_LIMIT_BACKEND: "memory",
  });
  delete env.DATA_DIR;
  const { logger, captured } = captureLogger();
  const schema = `gh_test_proxied_${crypto.randomUUID().slice(0, 8)}`;
  const setup = await createServices(loadConfig(env), { log: logger, skipMigrations: true });
  await setup.sql.unsafe(`create schema ${schema}`);
  await setup.close();
  const services = await createServices(loadConfig(env), { log: logger, schema });
  return {
    app: createApp(services),
    services,
    proxy,
    log: captured,
    close: async () => {
      proxy.restore();
      await services.sql.unsafe(`drop schema if exists ${schema} cascade`).catch(() => {});
      await services.close();
      await proxy.close();
      await embedded?.close();
    },
  };
}
