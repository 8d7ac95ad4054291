import { startEmbeddedPostgres } from "../../src/db/embedded.ts";
import { startTestApp, TEST_DATABASE_URL, type TestApp } from "./harness.ts";

/**
 * A test app in self-hosted mode (DATABASE_URL set) in both CI modes: the real
 * Postgres when given, else an embedded PGlite reached over its loopback port.
 */
export async function startSelfHostedTestApp(
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const embedded = TEST_DATABASE_URL ? undefined : await startEmbeddedPostgres("memory://");
  const url = TEST_DATABASE_URL ??
    `postgres://postgres@${embedded!.host}:${embedded!.port}/postgres`;
  const h = await startTestApp({
    DATABASE_URL: url,
    DATABASE_POOL_MAX: "1",
    JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    RATE_LIMIT_BACKEND: "memory",
    ...overrides,
  });
  return {
    ...h,
    close: async () => {
      await h.close();
      await embedded?.close();
    },
  };
}
