import postgres from "postgres";
import { createApp } from "../../src/app.ts";
import type { App } from "../../src/http/env.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { type BuildOptions, createServices, type Services } from "../../src/services.ts";
import { deleteKeys } from "./redis_keys.ts";

/** Real services in CI when set; embedded PGlite and in-memory limits otherwise. */
export const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") || undefined;
export const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;

export interface CapturedLog {
  lines: Record<string, unknown>[];
  text(): string;
}

export interface TestApp {
  app: App;
  services: Services;
  config: Config;
  log: CapturedLog;
  /** The Postgres schema this app lives in (real Postgres only). */
  schema?: string;
  /** In-process request, as if from `ip` (default 203.0.113.10). */
  request(path: string, init?: RequestInit & { ip?: string }): Promise<Response>;
  /** JSON request helper: sets Content-Type and serialises `body`. */
  json(
    method: string,
    path: string,
    body?: unknown,
    init?: RequestInit & { ip?: string; token?: string },
  ): Promise<Response>;
  close(): Promise<void>;
}

export function captureLogger(): { logger: Logger; captured: CapturedLog } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("debug", (line) => lines.push(JSON.parse(line)));
  return {
    logger,
    captured: { lines, text: () => lines.map((l) => JSON.stringify(l)).join("\n") },
  };
}

/** A fresh schema per test app keeps runs on a shared Postgres independent. */
async function createSchema(url: string): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `gh_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create schema ${schema}`);
  await admin.end();
  return {
    schema,
    drop: async () => {
      const cleanup = postgres(url, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop schema if exists ${schema} cascade`);
      await cleanup.end();
    },
  };
}

/** Environment of a test app: fast password hashing, no real secrets. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    LOG_LEVEL: "debug",
    // Each test app counts in its own namespace, deleted when it closes.
    RATE_LIMIT_PREFIX: `gh_test_${crypto.randomUUID().slice(0, 8)}:rl`,
    PASSWORD_SCRYPT_LOG_N: "14",
    PUBLIC_URL: "https://gatehouse.test",
  };
  if (TEST_DATABASE_URL) {
    env.DATABASE_URL = TEST_DATABASE_URL;
    env.DATABASE_POOL_MAX = "4";
    env.JWT_SECRET = crypto.randomUUID() + crypto.randomUUID();
    if (!TEST_REDIS_URL) env.RATE_LIMIT_BACKEND = "memory";
  } else {
    env.DATA_DIR = "memory://";
  }
  if (TEST_REDIS_URL) {
    env.REDIS_URL = TEST_REDIS_URL;
    env.RATE_LIMIT_BACKEND = "redis";
  }
  return { ...env, ...overrides };
}

export interface StartOptions {
  extend?: (app: App) => void;
  /** Extra service options (e.g. a webhook resolver stub, a shared database). */
  build?: Omit<BuildOptions, "log" | "schema">;
  /** Live in this existing schema (another instance's); it is not dropped on close. */
  schema?: string;
  /** Leave the schema in place on close (a restart test starts a new app on it). */
  keepSchema?: boolean;
}

/** The init of a JSON request: Content-Type when there is a body, the bearer token, the body. */
function jsonInit(
  method: string,
  body: unknown,
  init: RequestInit & { token?: string },
): RequestInit {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (body !== undefined) headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  return {
    ...rest,
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

/** The one request helper: in-process requests as if from `defaultIp`, and their JSON form. */
export function requestHelpers(app: App, defaultIp: string): Pick<TestApp, "request" | "json"> {
  const request: TestApp["request"] = (path, init = {}) => {
    const { ip, ...rest } = init;
    return Promise.resolve(
      app.request(path, rest, { remoteAddr: { hostname: ip ?? defaultIp } }),
    );
  };
  return {
    request,
    json: (method, path, body, init = {}) => {
      const { ip, ...rest } = init;
      return request(path, { ...jsonInit(method, body, rest), ip });
    },
  };
}

/**
 * The same JSON helper over a real socket to a started server (`base`, e.g.
 * `http://127.0.0.1:8123`): for what only the network path shows, such as a client
 * that goes away mid-stream.
 */
export function socketJson(base: string) {
  return (
    method: string,
    path: string,
    body?: unknown,
    init: RequestInit & { token?: string } = {},
  ): Promise<Response> => fetch(`${base}${path}`, jsonInit(method, body, init));
}

export async function startTestApp(
  overrides: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestApp> {
  const config = loadConfig(testEnv(overrides));
  const { logger, captured } = captureLogger();
  const schema = options.schema
    ? { schema: options.schema, drop: () => Promise.resolve() }
    : config.DATABASE_URL && !options.build?.database
    ? await createSchema(config.DATABASE_URL)
    : undefined;
  const services = await createServices(config, {
    ...options.build,
    log: logger,
    schema: schema?.schema,
  });
  const app = createApp(services);
  options.extend?.(app);
  return {
    app,
    services,
    config,
    schema: schema?.schema,
    log: captured,
    ...requestHelpers(app, "203.0.113.10"),
    close: async () => {
      await services.close();
      if (!options.keepSchema) await schema?.drop();
      if (
        TEST_REDIS_URL && config.REDIS_URL === TEST_REDIS_URL &&
        config.rateLimitBackend !== "memory"
      ) {
        await deleteKeys(TEST_REDIS_URL, `${config.RATE_LIMIT_PREFIX}:*`);
      }
    },
  };
}

/**
 * A second instance of `h`'s service: same database schema, same limiter
 * prefix and secrets, its own process-level state (caches, pools, counters in
 * memory). Real Postgres only; closed before `h`.
 */
export async function startTwinApp(h: TestApp): Promise<TestApp> {
  if (!h.schema) throw new Error("startTwinApp needs a real Postgres (TEST_DATABASE_URL)");
  const { logger, captured } = captureLogger();
  const services = await createServices(h.config, {
    log: logger,
    schema: h.schema,
    skipMigrations: true,
  });
  const app = createApp(services);
  return {
    app,
    services,
    config: h.config,
    schema: h.schema,
    log: captured,
    ...requestHelpers(app, "203.0.113.11"),
    close: () => services.close(),
  };
}
