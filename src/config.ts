import { z } from "zod";
import { llmProvidersSchema } from "./config_llm.ts";
import { parseRateLimitTiers } from "./config_tiers.ts";

/** Which of the three documented ways to run this process is in. */
export type RunMode = "embedded" | "self-hosted" | "deploy";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"])
  .transform((v) => ["true", "1", "yes", "on"].includes(v));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL (${protocols.join(" or ")})`);

const csv = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `5s,30s,2m` into milliseconds; units ms, s, m, h, d; `none` means no retries. */
export function parseDurations(text: string): number[] {
  if (text.trim() === "none") return [];
  return text.split(",").map((part) => {
    const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(part.trim());
    if (!match) throw new Error(`'${part.trim()}' is not a duration like 500ms, 5s, 2m, 1h or 1d`);
    const ms = Number(match[1]) * DURATION_UNITS[match[2]!]!;
    if (ms > 7 * 86_400_000) throw new Error(`'${part.trim()}' is longer than 7 days`);
    return ms;
  });
}

const durations = z.string().transform((text, ctx) => {
  try {
    const list = parseDurations(text);
    if (list.length > 20) throw new Error("at most 20 delays");
    return list;
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const jsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "must be valid JSON" });
    return z.NEVER;
  }
});

/**
 * The environment, exactly as operators set it. Every variable the code reads is
 * declared here (and documented in the README's configuration table).
 */
export const envSchema = z.object({
  PORT: int(0, 65535).default(8000),
  HOSTNAME: z.string().min(1).default("0.0.0.0"),
  PUBLIC_URL: url(["http:", "https:"]).optional(),
  DATA_DIR: z.string().min(1).default("./.data"),
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  DATABASE_POOL_MAX: int(1, 100).default(10),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  UPSTASH_REDIS_REST_URL: url(["https:", "http:"]).optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  RATE_LIMIT_BACKEND: z.enum(["memory", "redis", "upstash"]).optional(),
  RATE_LIMIT_TIMEOUT_MS: int(50, 30_000).default(1000),
  RATE_LIMIT_PREFIX: z.string().min(1).max(64).regex(/^[A-Za-z0-9:_-]+$/).default("gatehouse:rl"),
  RATE_LIMIT_TIERS: z.string().transform((text, ctx) => {
    try {
      return parseRateLimitTiers(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  }).optional(),
  RATE_LIMIT_IP_PER_MINUTE: int(1, 1_000_000).default(60),
  LOGIN_FAILURES_PER_ACCOUNT: int(1, 10_000).default(10),
  CORS_ORIGINS: csv.default([]),
  TRUST_PROXY: bool.default(false),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  READINESS_TIMEOUT_MS: int(50, 30_000).default(1000),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  JWT_SECRET: z.string().optional(),
  JWT_PREVIOUS_SECRETS: csv.default([]),
  JWT_PRIVATE_KEY: z.string().optional(),
  JWT_KEY_ID: z.string().min(1).max(64).optional(),
  JWT_PREVIOUS_PUBLIC_KEYS: jsonText.pipe(
    z.array(z.object({ kid: z.string().min(1).max(64), pem: z.string().min(1) })).max(10),
  ).optional(),
  JWT_ISSUER: z.string().min(1).default("gatehouse"),
  JWT_AUDIENCE: z.string().min(1).default("gatehouse-api"),
  ACCESS_TOKEN_TTL_SECONDS: int(30, 900).default(900),
  SESSION_IDLE_TTL_SECONDS: int(60, 365 * 86400).default(7 * 86400),
  SESSION_ABSOLUTE_TTL_SECONDS: int(60, 3650 * 86400).default(30 * 86400),
  REFRESH_REUSE_GRACE_SECONDS: int(0, 300).default(10),
  PASSWORD_SCRYPT_LOG_N: int(14, 22).default(17),
  ECHO_MODELS: bool.optional(),
  LLM_PROVIDERS: jsonText.pipe(llmProvidersSchema).optional(),
  LLM_STREAM_IDLE_TIMEOUT_MS: int(100, 600_000).default(30_000),
  MAX_STREAMS_PER_PRINCIPAL: int(1, 1000).default(4),
  MAX_CONCURRENT_QUERIES_PER_USER: int(1, 1000).default(8),
  MAX_API_KEYS_PER_USER: int(1, 100_000).default(100),
  MAX_PROMPT_CHARS: int(1, 1_000_000).default(32_000),
  DEFAULT_MAX_OUTPUT_TOKENS: int(1, 1_000_000).default(1024),
  SPEND_FAIL_OPEN: bool.default(false),
  SPEND_SWEEP_INTERVAL_MS: int(100, 3_600_000).default(60_000),
  METRICS_TOKEN: z.string().min(16).optional(),
  SEED_DEMO: bool.optional(),
  ADMIN_EMAIL: z.email().max(254).optional(),
  ADMIN_PASSWORD: z.string().min(1).max(1024).optional(),
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  WEBHOOK_RETRY_SCHEDULE: durations.default([
    5_000,
    30_000,
    120_000,
    600_000,
    3_600_000,
    21_600_000,
  ]),
  WEBHOOK_SWEEP_INTERVAL_S: int(1, 86_400).default(300),
  WEBHOOK_POLL_INTERVAL_MS: int(10, 60_000).default(1000),
  WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(10_000),
});

export type Env = z.infer<typeof envSchema>;

export interface Config extends Env {
  mode: RunMode;
  /** RATE_LIMIT_TIERS merged over the default tiers. */
  rateLimitTiers: ReturnType<typeof parseRateLimitTiers>;
  /** Echo models on: no other provider, or ECHO_MODELS=true. */
  echoModels: boolean;
  /** Resolved rate-limiter backend (memory only when embedded unless forced). */
  rateLimitBackend: "memory" | "redis" | "upstash";
}

/*
 * The groups of settings, one per consumer: each service is handed only its group (typed as
 * one of these), so its signature says what it depends on. They are views of the one `Config`
 * parsed and checked by `loadConfig`; `src/services.ts` hands them out.
 */

/** The database connection (`db/client.ts`). */
export type DatabaseConfig = Pick<Config, "DATABASE_URL" | "DATABASE_POOL_MAX" | "DATA_DIR">;

/** Signing and verifying tokens (`auth/jwt_settings.ts`); DATA_DIR keeps the embedded secret. */
export type JwtConfig = Pick<
  Config,
  | "JWT_SECRET"
  | "JWT_PREVIOUS_SECRETS"
  | "JWT_PRIVATE_KEY"
  | "JWT_KEY_ID"
  | "JWT_PREVIOUS_PUBLIC_KEYS"
  | "JWT_ISSUER"
  | "JWT_AUDIENCE"
  | "ACCESS_TOKEN_TTL_SECONDS"
  | "DATA_DIR"
>;

/** Session lifetimes and refresh reuse (`auth/session_service.ts`, `auth/authenticator.ts`). */
export type SessionConfig = Pick<
  Config,
  "SESSION_IDLE_TTL_SECONDS" | "SESSION_ABSOLUTE_TTL_SECONDS" | "REFRESH_REUSE_GRACE_SECONDS"
>;

/** The rate limiter's backend and its connection (`ratelimit/limiter.ts`, via services.ts). */
export type RateLimiterConfig = Pick<
  Config,
  | "rateLimitBackend"
  | "REDIS_URL"
  | "UPSTASH_REDIS_REST_URL"
  | "UPSTASH_REDIS_REST_TOKEN"
  | "RATE_LIMIT_TIMEOUT_MS"
  | "RATE_LIMIT_PREFIX"
>;

/** Webhook destinations, retries and the delivery worker (`webhooks/mod.ts`). */
export type WebhookConfig = Pick<
  Config,
  | "WEBHOOK_ALLOW_HTTP"
  | "WEBHOOK_ALLOW_PRIVATE"
  | "WEBHOOK_RETRY_SCHEDULE"
  | "WEBHOOK_SWEEP_INTERVAL_S"
  | "WEBHOOK_POLL_INTERVAL_MS"
  | "WEBHOOK_TIMEOUT_MS"
>;

/**
 * What the HTTP edge reads (`app.ts`, `server.ts`, `http/`, `routes/`, the health probes), as
 * `services.config`: request limits, CORS, proxies, documents, password cost (handlers hash
 * passwords), probes and shutdown.
 */
export type HttpConfig = Pick<
  Config,
  | "mode"
  | "PUBLIC_URL"
  | "CORS_ORIGINS"
  | "TRUST_PROXY"
  | "BODY_LIMIT_BYTES"
  | "MAX_PROMPT_CHARS"
  | "MAX_API_KEYS_PER_USER"
  | "METRICS_TOKEN"
  | "PASSWORD_SCRYPT_LOG_N"
  | "READINESS_TIMEOUT_MS"
  | "SESSION_IDLE_TTL_SECONDS"
  | "SHUTDOWN_TIMEOUT_MS"
>;

/** Thrown when the environment is unusable; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset: `FOO= deno task start` should mean "default".
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) =>
      `${issue.path.join(".") || "(environment)"}: ${issue.message}`
    );
  // Cross-variable rules run on the raw values too, so one message names everything.
  const raw = cleaned as Record<string, string | undefined>;
  const mode: RunMode = !raw.DATABASE_URL
    ? "embedded"
    : raw.UPSTASH_REDIS_REST_URL
    ? "deploy"
    : "self-hosted";
  if (raw.UPSTASH_REDIS_REST_URL && !raw.UPSTASH_REDIS_REST_TOKEN) {
    problems.push("UPSTASH_REDIS_REST_TOKEN: required when UPSTASH_REDIS_REST_URL is set");
  }
  const forced = raw.RATE_LIMIT_BACKEND as Config["rateLimitBackend"] | undefined;
  const rateLimitBackend = forced ??
    (raw.UPSTASH_REDIS_REST_URL ? "upstash" : raw.REDIS_URL ? "redis" : "memory");
  if (rateLimitBackend === "redis" && !raw.REDIS_URL) {
    problems.push("REDIS_URL: required when RATE_LIMIT_BACKEND=redis");
  }
  if (rateLimitBackend === "upstash" && !raw.UPSTASH_REDIS_REST_URL) {
    problems.push("UPSTASH_REDIS_REST_URL: required when RATE_LIMIT_BACKEND=upstash");
  }
  if (mode !== "embedded") {
    if (!raw.JWT_SECRET && !raw.JWT_PRIVATE_KEY) {
      problems.push("JWT_SECRET: required outside embedded mode (or set JWT_PRIVATE_KEY)");
    }
    if (!forced && rateLimitBackend === "memory") {
      problems.push(
        "REDIS_URL: required outside embedded mode (or UPSTASH_REDIS_REST_URL, or RATE_LIMIT_BACKEND=memory for a single instance)",
      );
    }
  }
  if (!!raw.ADMIN_EMAIL !== !!raw.ADMIN_PASSWORD) {
    problems.push(
      raw.ADMIN_EMAIL
        ? "ADMIN_PASSWORD: required when ADMIN_EMAIL is set (used only if the user is created)"
        : "ADMIN_EMAIL: required when ADMIN_PASSWORD is set",
    );
  }
  const byteLength = (text: string) => new TextEncoder().encode(text).length;
  if (raw.JWT_SECRET && byteLength(raw.JWT_SECRET) < 32) {
    problems.push("JWT_SECRET: must be at least 32 bytes");
  }
  const previous = (raw.JWT_PREVIOUS_SECRETS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const [index, secret] of previous.entries()) {
    if (byteLength(secret) < 32) {
      problems.push(`JWT_PREVIOUS_SECRETS: entry ${index + 1} must be at least 32 bytes`);
    }
  }
  const origins = (raw.CORS_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin === "*") problems.push("CORS_ORIGINS: list explicit origins; '*' is not allowed");
    else if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(`CORS_ORIGINS: '${origin}' is not an origin like https://app.example.com`);
    }
  }
  if (!parsed.success) throw new ConfigError(problems);
  const values = parsed.data;
  if (values.SESSION_IDLE_TTL_SECONDS > values.SESSION_ABSOLUTE_TTL_SECONDS) {
    problems.push("SESSION_IDLE_TTL_SECONDS: must not exceed SESSION_ABSOLUTE_TTL_SECONDS");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const providers = values.LLM_PROVIDERS ?? [];
  return {
    ...values,
    mode,
    rateLimitBackend,
    rateLimitTiers: values.RATE_LIMIT_TIERS ?? parseRateLimitTiers(undefined),
    echoModels: providers.length === 0 || values.ECHO_MODELS === true,
  };
}

/** The variables the process reads, from the real environment. */
export function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) env[key] = Deno.env.get(key);
  return env;
}
