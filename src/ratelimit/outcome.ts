/**
 * Shared rate-limit vocabulary: windows, per-window outcomes and the store contract.
 *
 * Kept dependency-free so pure modules (headers, tiers, memory store) can use it without
 * pulling in the Redis/Upstash clients.
 */

/** One limit applied over a fixed-size sliding window, e.g. 60 requests per 60 s. */
export interface LimitWindow {
  /** Stable label used in headers and error details: "minute" | "day" | ... */
  name: string;
  limit: number;
  windowSeconds: number;
}

/** Result of consuming one token from one window. */
export interface LimitOutcome {
  window: LimitWindow;
  success: boolean;
  remaining: number;
  /** Unix epoch milliseconds at which the current window ends. */
  reset: number;
  /**
   * The backend did not answer in time (or failed). `success` is then `true` (fail-open);
   * security-sensitive callers (auth endpoints) should treat it as a denial instead.
   */
  timedOut: boolean;
}

export interface BackendHealth {
  status: "up" | "down";
  latency_ms: number;
  backend: string;
  error?: string;
}

/** Runs a Lua script atomically on the limiter's Redis (plain or Upstash): one round trip. */
export interface ScriptRunner {
  run(script: string, keys: string[], args: string[]): Promise<unknown>;
}

export interface RateLimiterStore {
  readonly kind: "memory" | "redis" | "upstash";
  /** The networked backends' script runner (spend counters use it); absent in memory. */
  readonly scripts?: ScriptRunner;
  /** consume 1 token for `identifier` in `window`, namespaced by `policy` (e.g. "tier:free", "ip", "login-account") */
  limit(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome>;
  /**
   * Reads the window without consuming: `success` is false when it is exhausted. Used to
   * refuse a login before checking a password once failures ran out.
   */
  peek(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome>;
  /**
   * Gives back one token taken by `limit` (a login that turned out right gives
   * back its failure slot). Best effort: a backend that cannot answer throws.
   */
  refund(policy: string, window: LimitWindow, identifier: string): Promise<void>;
  health(): Promise<BackendHealth>;
  close(): Promise<void>;
}

/** Rejects windows no backend can represent (a programming/config error, not a runtime one). */
export function assertValidWindow(window: LimitWindow): void {
  if (!Number.isSafeInteger(window.limit) || window.limit < 0) {
    throw new RangeError(`Rate limit window "${window.name}": limit must be an integer >= 0`);
  }
  if (!Number.isSafeInteger(window.windowSeconds) || window.windowSeconds <= 0) {
    throw new RangeError(
      `Rate limit window "${window.name}": windowSeconds must be an integer > 0`,
    );
  }
}

/** End of the fixed window containing `now` — the same `reset` @upstash/ratelimit reports. */
export function windowReset(window: LimitWindow, now: number): number {
  const size = window.windowSeconds * 1000;
  return (Math.floor(now / size) + 1) * size;
}

/**
 * Outcome for a backend that could not be asked: let the request through and say so.
 * Remaining is reported as the full limit because nothing is known to have been consumed.
 */
export function failOpenOutcome(window: LimitWindow, now = Date.now()): LimitOutcome {
  return {
    window,
    success: true,
    remaining: window.limit,
    reset: windowReset(window, now),
    timedOut: true,
  };
}

/**
 * The outcome that should drive client-facing headers.
 *
 * On denial: the denied window that stays closed longest (latest reset), because that is how
 * long the client actually has to wait. Otherwise: the window with the fewest remaining
 * tokens (ties broken by the later reset, the more conservative hint).
 */
export function mostConstrained(outcomes: readonly LimitOutcome[]): LimitOutcome {
  const first = outcomes[0];
  if (first === undefined) throw new RangeError("mostConstrained: no outcomes");
  const denied = outcomes.filter((o) => !o.success);
  if (denied.length > 0) {
    return denied.reduce((a, b) => (b.reset > a.reset ? b : a));
  }
  return outcomes.reduce((a, b) =>
    b.remaining < a.remaining || (b.remaining === a.remaining && b.reset > a.reset) ? b : a
  );
}
