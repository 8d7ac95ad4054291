/**
 * The rate-limiting abstraction the app uses, over three interchangeable backends:
 *   - "memory":  in-process sliding window (embedded / single instance);
 *   - "redis":   @upstash/ratelimit on a plain Redis via the RESP adapter;
 *   - "upstash": @upstash/ratelimit on hosted Upstash over HTTPS.
 *
 * Availability beats precision here: a backend that is slow or down yields
 * `{ success: true, timedOut: true }` instead of an exception, and each caller decides
 * whether that is acceptable (auth endpoints deny, the rest let traffic through).
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import { DeadlineQueue } from "./deadline_queue.ts";
import { BoundedEphemeralCache } from "./ephemeral_cache.ts";
import { MemoryRateLimiterStore } from "./memory_store.ts";
import {
  assertValidWindow,
  type BackendHealth,
  failOpenOutcome,
  type LimitOutcome,
  type LimitWindow,
  mostConstrained,
  type RateLimiterStore,
  type ScriptRunner,
} from "./outcome.ts";
import { createUpstashClientOverRedis } from "./redis_adapter.ts";
import { createUpstashRestClient } from "./upstash_rest.ts";

export type {
  BackendHealth,
  LimitOutcome,
  LimitWindow,
  RateLimiterStore,
  ScriptRunner,
} from "./outcome.ts";
export { mostConstrained } from "./outcome.ts";

export type RateLimiterBackend =
  | { kind: "memory" }
  | { kind: "redis"; url: string }
  | { kind: "upstash"; url: string; token: string };

export interface RateLimiterSettings {
  /** Longest a limit check may wait on the backend before failing open. */
  timeoutMs: number;
  /** Key namespace, e.g. "gatehouse:rl". */
  prefix: string;
  /** Background work a limit check left behind (`pending`) failed. */
  onPendingError?: (error: unknown) => void;
  /** A limit check or warm-up could not reach the backend (the check failed open). */
  onBackendError?: (error: unknown) => void;
}

/** What a networked backend must offer; both Redis flavours expose an @upstash/redis client. */
interface UpstashBackend {
  readonly redis: Redis;
  ping(): Promise<number>;
  close(): Promise<void>;
}

export async function createRateLimiterStore(
  opts: RateLimiterBackend,
  settings: RateLimiterSettings,
): Promise<RateLimiterStore> {
  if (!(settings.timeoutMs > 0)) throw new RangeError("timeoutMs must be > 0");
  if (opts.kind === "memory") return new MemoryRateLimiterStore();

  // Work the caller no longer waits for (after `timeoutMs`) is still bounded, just looser.
  const backgroundTimeoutMs = Math.max(1000, settings.timeoutMs * 4);
  const backend: UpstashBackend = opts.kind === "redis"
    ? createUpstashClientOverRedis(opts.url, {
      connectTimeoutMs: backgroundTimeoutMs,
      commandTimeoutMs: backgroundTimeoutMs,
    })
    : createUpstashRestClient({
      url: opts.url,
      token: opts.token,
      requestTimeoutMs: backgroundTimeoutMs,
    });
  const store = new UpstashRatelimitStore(opts.kind, backend, settings);
  // Warm the connection so the first request does not pay for it; never fatal at startup.
  await store.warmUp();
  return store;
}

const TIMED_OUT = Symbol("timed out");

class UpstashRatelimitStore implements RateLimiterStore {
  readonly kind: "redis" | "upstash";
  readonly #backend: UpstashBackend;
  readonly #settings: RateLimiterSettings;
  /** One Ratelimit per (policy, limit, window): tiers share theirs, overrides get their own. */
  readonly #limiters = new Map<string, Ratelimit>();
  /** Background promises still running, so close() can let them finish. */
  readonly #pending = new Set<Promise<unknown>>();
  /** `timeoutMs` for limit checks; the library's own timeout (a timer per call) is off. */
  readonly #deadlines: DeadlineQueue;
  #closed = false;
  readonly scripts: ScriptRunner;

  constructor(kind: "redis" | "upstash", backend: UpstashBackend, settings: RateLimiterSettings) {
    this.kind = kind;
    this.#backend = backend;
    this.#settings = settings;
    this.#deadlines = new DeadlineQueue(settings.timeoutMs);
    // EVALSHA first, EVAL on NOSCRIPT (after a Redis restart or flush): one round trip usually.
    const loaded = new Map<string, ReturnType<Redis["createScript"]>>();
    this.scripts = {
      run: (script, keys, args) => {
        let compiled = loaded.get(script);
        if (!compiled) loaded.set(script, compiled = backend.redis.createScript(script));
        return withDeadline(compiled.exec(keys, args), settings.timeoutMs);
      },
    };
  }

  async limit(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome> {
    const limiter = this.#limiterFor(policy, window);
    let response: Awaited<ReturnType<Ratelimit["limit"]>> | typeof TIMED_OUT;
    try {
      response = await this.#deadlines.race(limiter.limit(identifier), () => TIMED_OUT);
    } catch (error) {
      // A backend that throws (connection refused, closed client, HTTP error) lands
      // here and, like a slow one, must not break the request.
      report(this.#settings.onBackendError, error);
      return failOpenOutcome(window);
    }
    if (response === TIMED_OUT) return failOpenOutcome(window);
    this.#track(response.pending);
    return {
      window,
      success: response.success,
      remaining: response.remaining,
      reset: response.reset,
      timedOut: false,
    };
  }

  async peek(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome> {
    const limiter = this.#limiterFor(policy, window);
    try {
      const { remaining, reset } = await withDeadline(
        limiter.getRemaining(identifier),
        this.#settings.timeoutMs,
      );
      return { window, success: remaining > 0, remaining, reset, timedOut: false };
    } catch (error) {
      report(this.#settings.onBackendError, error);
      return failOpenOutcome(window);
    }
  }

  async refund(policy: string, window: LimitWindow, identifier: string): Promise<void> {
    const limiter = this.#limiterFor(policy, window);
    // A negative rate is the library's refund: it skips the limit check and decrements.
    const response = await withDeadline(
      limiter.limit(identifier, { rate: -1 }),
      this.#settings.timeoutMs,
    );
    this.#track(response.pending);
  }

  async health(): Promise<BackendHealth> {
    const started = performance.now();
    try {
      const latency = await withDeadline(
        this.#backend.ping(),
        Math.max(1000, this.#settings.timeoutMs),
      );
      return { status: "up", latency_ms: round(latency), backend: this.kind };
    } catch (error) {
      return {
        status: "down",
        latency_ms: round(performance.now() - started),
        backend: this.kind,
        error: error instanceof Error ? error.message : String(error),
      };
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    this.#deadlines.stop();
    this.#limiters.clear();
    await this.#backend.close();
  }

  async warmUp(): Promise<void> {
    try {
      await withDeadline(this.#backend.ping(), this.#settings.timeoutMs);
    } catch (error) {
      report(this.#settings.onBackendError, error);
    }
  }

  #limiterFor(policy: string, window: LimitWindow): Ratelimit {
    assertValidWindow(window);
    const key = `${policy}\u0000${window.limit}\u0000${window.windowSeconds}`;
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: this.#backend.redis,
        limiter: Ratelimit.slidingWindow(window.limit, `${window.windowSeconds} s`),
        // Keyed by window length, not limit: a per-key override keeps counting the same
        // requests as the tier it replaces.
        prefix: `${this.#settings.prefix}:${policy}:${window.windowSeconds}s`,
        timeout: 0,
        analytics: false,
        ephemeralCache: new BoundedEphemeralCache(),
        enableTelemetry: false,
      });
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }

  #track(pending: Promise<unknown>): void {
    const tracked = pending.catch((error) => report(this.#settings.onPendingError, error));
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }
}

export interface LimitAllResult {
  outcomes: LimitOutcome[];
  /** The outcome that should drive headers / the 429 (see `mostConstrained`). */
  constrained: LimitOutcome;
  /** Every window admitted the request. */
  success: boolean;
  /** At least one window could not be checked. */
  timedOut: boolean;
}

/**
 * Consumes one token from every window (e.g. minute + day) concurrently. All windows are
 * charged even when one denies, matching how fixed quotas are usually accounted.
 */
export async function limitAll(
  store: RateLimiterStore,
  policy: string,
  windows: readonly LimitWindow[],
  identifier: string,
): Promise<LimitAllResult> {
  if (windows.length === 0) throw new RangeError("limitAll: at least one window is required");
  const outcomes = await Promise.all(windows.map((w) => store.limit(policy, w, identifier)));
  return {
    outcomes,
    constrained: mostConstrained(outcomes),
    success: outcomes.every((o) => o.success),
    timedOut: outcomes.some((o) => o.timedOut),
  };
}

/** Error hooks are for observability; a throwing hook must not turn into a failed request. */
function report(hook: ((error: unknown) => void) | undefined, error: unknown): void {
  try {
    hook?.(error);
  } catch {
    // ignored on purpose
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
