import type { Config, HttpConfig, RateLimiterConfig } from "./config.ts";
import { connectDatabase, type ConnectOptions, type Database, type Sql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { createTokenService, type TokenService } from "./auth/jwt.ts";
import { resolveJwtSettings } from "./auth/jwt_settings.ts";
import { LoginGuard } from "./auth/login_guard.ts";
import { SessionService } from "./auth/session_service.ts";
import { Lifecycle } from "./lifecycle.ts";
import { type ChatService, createChatService } from "./chat/service.ts";
import { LlmRouter, ModelRegistry } from "./llm/mod.ts";
import { createRateLimiterStore } from "./ratelimit/limiter.ts";
import { RateLimitPolicies } from "./ratelimit/policies.ts";
import { createLogger, type Logger } from "./log.ts";
import { GatehouseMetrics } from "./metrics/gatehouse.ts";
import type { RateLimiterStore } from "./ratelimit/outcome.ts";
import { MemorySpendCounters, ScriptSpendCounters, type SpendCounters } from "./spend/counters.ts";
import { SpendService } from "./spend/service.ts";
import { type Resolver, Webhooks } from "./webhooks/mod.ts";

/** The typed bag of long-lived services, built once per process. */
export interface Services {
  /** The HTTP edge's settings; each service below was handed only its own group. */
  config: HttpConfig;
  log: Logger;
  sql: Sql;
  db: Database;
  lifecycle: Lifecycle;
  tokens: TokenService;
  authenticator: Authenticator;
  sessions: SessionService;
  limits: RateLimitPolicies;
  /** Password checks under the failed-login budget (its `onAccountLocked` is the lock hook). */
  loginGuard: LoginGuard;
  /** Prometheus metrics of this process, served at /metrics. */
  metrics: GatehouseMetrics;
  models: ModelRegistry;
  llm: LlmRouter;
  /** Token quotas and USD budgets: reserves and settles every model call. */
  spend: SpendService;
  /** Webhook endpoints' events, outbox worker and expiry sweep. */
  webhooks: Webhooks;
  /** The chat core's narrow view: turns, stream caps. */
  chat: ChatService;
  startedAt: number;
  close(): Promise<void>;
}

export interface BuildOptions {
  log?: Logger;
  /** Postgres schema to live in (tests isolate each run in its own). */
  schema?: string;
  /** Skip applying migrations (the `migrate` task applies them itself). */
  skipMigrations?: boolean;
  /** Share an open database instead of connecting (a second instance in one process). */
  database?: Database;
  /** postgres.js's `debug` hook for the database this builds (the benchmark records statements). */
  databaseDebug?: ConnectOptions["debug"];
  /**
   * Share another in-process instance's limiter and spend counters (a second
   * instance in one process on the memory backend, which otherwise counts apart).
   */
  limiter?: { store: RateLimiterStore; spendCounters: SpendCounters };
  /** Resolves webhook hosts (tests pass a stub so no real DNS is needed). */
  webhookResolver?: Resolver;
  /** Start the webhook delivery worker and expiry sweep (default true). */
  webhookWorker?: boolean;
}

export async function createServices(
  config: Config,
  options: BuildOptions = {},
): Promise<Services> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const db = options.database ?? await connectDatabase(config, log, {
    schema: options.schema,
    debug: options.databaseDebug,
  });
  // A database handed in belongs to whoever opened it.
  const closers: (() => Promise<void>)[] = options.database ? [] : [() => db.close()];
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        log.warn("error while closing", { error });
      }
    }
  };
  try {
    if (!options.skipMigrations) await migrate(db.sql, log);
    const jwtSettings = await resolveJwtSettings(config);
    const tokens = await createTokenService(jwtSettings);
    const authenticator = new Authenticator(db.sql, tokens, config, log);
    closers.push(() => authenticator.close());
    // Webhook signing secrets are sealed with a key derived from the service secret.
    const webhooks = new Webhooks(db.sql, config, log, {
      resolver: options.webhookResolver,
      sealingSecret: jwtSettings.secret ?? jwtSettings.privateKeyPem!,
      previousSealingSecrets: jwtSettings.previousSecrets ?? [],
    });
    const sessions = new SessionService(db.sql, tokens, config, authenticator, {
      onRefreshReuse: (tx, reuse) => webhooks.refreshReused(tx, reuse),
    });
    const limits = new RateLimitPolicies(
      options.limiter?.store ?? await createLimiterStore(config, log),
      config.rateLimitTiers,
      {
        ipPerMinute: config.RATE_LIMIT_IP_PER_MINUTE,
        loginFailuresPerAccount: config.LOGIN_FAILURES_PER_ACCOUNT,
        prefix: config.RATE_LIMIT_PREFIX,
      },
      log,
    );
    // A limiter handed in belongs to whoever opened it; this instance's leases are its own.
    if (!options.limiter) closers.push(() => limits.store.close());
    closers.push(() => limits.close());
    const models = ModelRegistry.fromSettings({
      providers: config.LLM_PROVIDERS ?? [],
      echoModels: config.echoModels,
    });
    if (config.echoModels) {
      log.info("echo models enabled: a deterministic development provider, not a real LLM");
    }
    const metrics = new GatehouseMetrics();
    const store = limits.store;
    const spend = new SpendService({
      sql: db.sql,
      // Same backend (and connection) as the rate limits: one atomic script per decision.
      counters: options.limiter?.spendCounters ??
        (store.scripts && store.kind !== "memory"
          ? new ScriptSpendCounters(store.kind, store.scripts)
          : new MemorySpendCounters()),
      tiers: config.rateLimitTiers,
      models,
      log,
      metrics,
      prefix: config.RATE_LIMIT_PREFIX,
      failOpen: config.SPEND_FAIL_OPEN,
    });
    // quota.threshold events: after each settlement and refusal, off the request path.
    spend.observe({
      onSettled: (snapshots) => webhooks.quotaSettled(snapshots),
      onRefused: (snapshot) => webhooks.quotaRefused(snapshot),
    });
    if (!options.skipMigrations) {
      // Calls a crashed process left between reservation and settlement are billed now.
      await spend.closeStale().catch((error) =>
        log.error("spend: closing calls left pending failed", { error })
      );
    }
    // And while running: a crashed instance nobody restarts leaves nothing unbilled.
    const stopSweeping = spend.sweepEvery(config.SPEND_SWEEP_INTERVAL_MS);
    closers.push(() => Promise.resolve(stopSweeping()));
    if (options.webhookWorker ?? true) {
      webhooks.start();
      closers.push(() => webhooks.stop());
    }
    const lifecycle = new Lifecycle();
    const llm = new LlmRouter(models, {
      streamIdleTimeoutMs: config.LLM_STREAM_IDLE_TIMEOUT_MS,
      defaultMaxOutputTokens: config.DEFAULT_MAX_OUTPUT_TOKENS,
    });
    const chat = createChatService({
      sql: db.sql,
      llm,
      models,
      metrics,
      spend,
      log,
      shutdown: lifecycle.shutdownSignal,
    }, {
      maxStreamsPerPrincipal: config.MAX_STREAMS_PER_PRINCIPAL,
      maxConcurrentQueriesPerUser: config.MAX_CONCURRENT_QUERIES_PER_USER,
      maxPromptChars: config.MAX_PROMPT_CHARS,
    });
    return {
      config,
      log,
      sql: db.sql,
      db,
      lifecycle,
      tokens,
      authenticator,
      sessions,
      limits,
      loginGuard: new LoginGuard(limits, log, {
        // Once per lockout: the guard calls it for the failure that took the last slot.
        onAccountLocked: (locked) => webhooks.loginLocked(locked.userId),
      }),
      models,
      llm,
      spend,
      metrics,
      webhooks,
      chat,
      startedAt: Date.now(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function createLimiterStore(config: RateLimiterConfig, log: Logger) {
  const settings = {
    timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
    prefix: config.RATE_LIMIT_PREFIX,
    onBackendError: (error: unknown) => log.debug("rate limiter backend error", { error }),
    onPendingError: (error: unknown) => log.debug("rate limiter background error", { error }),
  };
  switch (config.rateLimitBackend) {
    case "redis":
      return createRateLimiterStore({ kind: "redis", url: config.REDIS_URL! }, settings);
    case "upstash":
      return createRateLimiterStore({
        kind: "upstash",
        url: config.UPSTASH_REDIS_REST_URL!,
        token: config.UPSTASH_REDIS_REST_TOKEN!,
      }, settings);
    default:
      log.info("rate limits are kept in memory: they apply per process, not across instances");
      return createRateLimiterStore({ kind: "memory" }, settings);
  }
}
