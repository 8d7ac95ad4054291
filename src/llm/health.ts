/**
 * Per-model health: a rolling latency estimate and a small circuit breaker.
 *
 * - Latency: EWMA of observed successful call latencies (alpha 0.3), null
 *   until the first success.
 * - Status from consecutive failures (reset by any success):
 *   0 → "available"; 1..threshold-1 → "degraded"; threshold or more →
 *   "unavailable" for `cooldownMs`, after which the model is "degraded" again
 *   so the next request probes it (a success closes the breaker, a failure
 *   re-opens it for another cool-down).
 *
 * Status is computed lazily from an injectable clock: no timers.
 *
 * Failures are attributed to the principal (user) whose call failed, because
 * one caller can make a model fail on purpose (a huge prompt that times out).
 * The shared breaker (the model unavailable for everyone) opens only when the
 * streak holds failures from at least `minPrincipals` distinct principals;
 * calls without a principal each count as distinct (an internal caller has no
 * one to blame). A principal's own `failureThreshold` consecutive failures
 * open a breaker for that principal alone. Upstream `bad_request` answers
 * (the request itself was refused) only ever count against their principal.
 */

export type HealthStatus = "available" | "degraded" | "unavailable";

export interface HealthOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** How long an open breaker keeps the model out. Default 30 000 ms. */
  cooldownMs?: number;
  /** EWMA weight of the newest sample, 0 < alpha <= 1. Default 0.3. */
  latencyAlpha?: number;
  /** Distinct principals whose failures it takes to open the shared breaker. Default 2. */
  minPrincipals?: number;
  /** Milliseconds clock, injectable for tests. Default Date.now. */
  now?: () => number;
}

/** Whom a failure is attributed to, and whether the request itself was at fault. */
export interface FailureContext {
  principal?: string;
  /** The upstream refused the request as malformed (caller-side, never shared). */
  callerFault?: boolean;
}

/** Per-principal breakers kept at most; the oldest are dropped first. */
const MAX_TRACKED_PRINCIPALS = 10_000;

export interface HealthSnapshot {
  status: HealthStatus;
  /** EWMA latency in ms (rounded), null when never measured. */
  latency_ms: number | null;
  consecutive_failures: number;
  /** Epoch ms until which the model is skipped; null when the breaker is closed. */
  unavailable_until: number | null;
}

export class ModelHealth {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #alpha: number;
  readonly #now: () => number;
  readonly #minPrincipals: number;
  #latency: number | null = null;
  #failures = 0;
  #openUntil: number | null = null;
  /** Sources of the current shared failure streak. */
  readonly #streakSources = new Set<string>();
  #anonymous = 0;
  readonly #byPrincipal = new Map<string, { failures: number; openUntil: number | null }>();

  constructor(opts: HealthOptions = {}) {
    this.#threshold = opts.failureThreshold ?? 3;
    this.#minPrincipals = opts.minPrincipals ?? 2;
    this.#cooldownMs = opts.cooldownMs ?? 30_000;
    this.#alpha = opts.latencyAlpha ?? 0.3;
    this.#now = opts.now ?? Date.now;
  }

  /** Status for everyone (the shared breaker). */
  get status(): HealthStatus {
    if (this.#failures === 0) return "available";
    if (this.#openUntil !== null && this.#now() < this.#openUntil) return "unavailable";
    return "degraded";
  }

  /** Status as `principal` sees it: the shared breaker, then its own. */
  statusFor(principal?: string): HealthStatus {
    const shared = this.status;
    if (shared === "unavailable" || principal === undefined) return shared;
    const own = this.#byPrincipal.get(principal);
    if (!own) return shared;
    if (own.openUntil !== null && this.#now() < own.openUntil) return "unavailable";
    return "degraded";
  }

  /** EWMA latency in ms, null until the first success. */
  get latencyMs(): number | null {
    return this.#latency;
  }

  recordSuccess(latencyMs: number, principal?: string): void {
    const sample = Math.max(0, latencyMs);
    this.#latency = this.#latency === null
      ? sample
      : this.#alpha * sample + (1 - this.#alpha) * this.#latency;
    this.#failures = 0;
    this.#openUntil = null;
    this.#streakSources.clear();
    if (principal !== undefined) this.#byPrincipal.delete(principal);
  }

  recordFailure(context: FailureContext = {}): void {
    const { principal } = context;
    if (principal !== undefined) this.#recordOwnFailure(principal);
    if (context.callerFault) return;
    this.#failures += 1;
    this.#streakSources.add(principal ?? `anonymous:${++this.#anonymous}`);
    if (this.#failures >= this.#threshold && this.#streakSources.size >= this.#minPrincipals) {
      this.#openUntil = this.#now() + this.#cooldownMs;
    }
  }

  #recordOwnFailure(principal: string): void {
    const own = this.#byPrincipal.get(principal) ?? { failures: 0, openUntil: null };
    this.#byPrincipal.delete(principal); // re-inserted last: the map stays oldest-first
    own.failures += 1;
    if (own.failures >= this.#threshold) own.openUntil = this.#now() + this.#cooldownMs;
    this.#byPrincipal.set(principal, own);
    if (this.#byPrincipal.size > MAX_TRACKED_PRINCIPALS) {
      const oldest = this.#byPrincipal.keys().next().value;
      if (oldest !== undefined) this.#byPrincipal.delete(oldest);
    }
  }

  snapshot(principal?: string): HealthSnapshot {
    const status = this.statusFor(principal);
    const own = principal === undefined ? undefined : this.#byPrincipal.get(principal);
    const sharedOpen = this.status === "unavailable";
    return {
      status,
      latency_ms: this.#latency === null ? null : Math.round(this.#latency),
      consecutive_failures: this.#failures,
      unavailable_until: status !== "unavailable"
        ? null
        : sharedOpen
        ? this.#openUntil
        : own?.openUntil ?? null,
    };
  }
}
