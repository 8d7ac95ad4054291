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
 */

export type HealthStatus = "available" | "degraded" | "unavailable";

export interface HealthOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** How long an open breaker keeps the model out. Default 30 000 ms. */
  cooldownMs?: number;
  /** EWMA weight of the newest sample, 0 < alpha <= 1. Default 0.3. */
  latencyAlpha?: number;
  /** Milliseconds clock, injectable for tests. Default Date.now. */
  now?: () => number;
}

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
  #latency: number | null = null;
  #failures = 0;
  #openUntil: number | null = null;

  constructor(opts: HealthOptions = {}) {
    this.#threshold = opts.failureThreshold ?? 3;
    this.#cooldownMs = opts.cooldownMs ?? 30_000;
    this.#alpha = opts.latencyAlpha ?? 0.3;
    this.#now = opts.now ?? Date.now;
  }

  get status(): HealthStatus {
    if (this.#failures === 0) return "available";
    if (this.#openUntil !== null && this.#now() < this.#openUntil) return "unavailable";
    return "degraded";
  }

  /** EWMA latency in ms, null until the first success. */
  get latencyMs(): number | null {
    return this.#latency;
  }

  recordSuccess(latencyMs: number): void {
    const sample = Math.max(0, latencyMs);
    this.#latency = this.#latency === null
      ? sample
      : this.#alpha * sample + (1 - this.#alpha) * this.#latency;
    this.#failures = 0;
    this.#openUntil = null;
  }

  recordFailure(): void {
    this.#failures += 1;
    if (this.#failures >= this.#threshold) this.#openUntil = this.#now() + this.#cooldownMs;
  }

  snapshot(): HealthSnapshot {
    const status = this.status;
    return {
      status,
      latency_ms: this.#latency === null ? null : Math.round(this.#latency),
      consecutive_failures: this.#failures,
      unavailable_until: status === "unavailable" ? this.#openUntil : null,
    };
  }
}
