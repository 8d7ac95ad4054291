/**
 * In-process rate limiting for embedded/single-instance mode.
 *
 * Mirrors @upstash/ratelimit's `slidingWindow` exactly so switching backends does not change
 * behaviour: time is cut into fixed windows; a request is admitted when
 *   current + floor((1 - elapsedFractionOfCurrentWindow) * previous) < limit
 * and `reset` is the end of the current fixed window.
 *
 * Memory is bounded two ways: counters whose previous *and* current windows have passed are
 * swept periodically, and the number of tracked keys is capped (least recently used evicted
 * first — evicting an active key only forgets its count, i.e. fails open).
 */
import {
  assertValidWindow,
  type BackendHealth,
  type LimitOutcome,
  type LimitWindow,
  type RateLimiterStore,
} from "../outcome.ts";

export interface MemoryStoreOptions {
  /** Maximum tracked (policy, window, identifier) counters. Default 100 000. */
  maxKeys?: number;
  /** How often (at most) to sweep expired counters. Default 10 s. */
  sweepIntervalMs?: number;
  /** Clock injection for tests. */
  now?: () => number;
}

interface Counter {
  /** Index of the fixed window `current` belongs to. */
  window: number;
  current: number;
  previous: number;
  /** After this instant neither window can influence a decision any more. */
  expiresAt: number;
}

export class MemoryRateLimiterStore implements RateLimiterStore {
  readonly kind = "memory" as const;
  readonly #maxKeys: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  /** Insertion order doubles as recency order: entries are re-inserted on every hit. */
  readonly #counters = new Map<string, Counter>();
  #lastSweep: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxKeys = Math.max(1, options.maxKeys ?? 100_000);
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#lastSweep = this.#now();
  }

  /** Number of live counters (exposed for tests and metrics). */
  get size(): number {
    return this.#counters.size;
  }

  limit(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome> {
    try {
      return Promise.resolve(this.#consume(policy, window, identifier));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  peek(policy: string, window: LimitWindow, identifier: string): Promise<LimitOutcome> {
    assertValidWindow(window);
    const now = this.#now();
    const size = window.windowSeconds * 1000;
    const index = Math.floor(now / size);
    const counter = this.#counters.get(`${policy}\u0000${window.windowSeconds}\u0000${identifier}`);
    let used = 0;
    if (counter && counter.window >= index - 1) {
      const current = counter.window === index ? counter.current : 0;
      const previous = counter.window === index ? counter.previous : counter.current;
      used = current + Math.floor((1 - (now % size) / size) * previous);
    }
    const remaining = Math.max(0, window.limit - used);
    return Promise.resolve({
      window,
      success: remaining > 0,
      remaining,
      reset: (index + 1) * size,
      timedOut: false,
    });
  }

  refund(policy: string, window: LimitWindow, identifier: string): Promise<void> {
    assertValidWindow(window);
    const counter = this.#counters.get(`${policy}\u0000${window.windowSeconds}\u0000${identifier}`);
    const index = Math.floor(this.#now() / (window.windowSeconds * 1000));
    if (counter && counter.window === index) {
      // The token was taken in this window, or just before it rolled over.
      if (counter.current > 0) counter.current -= 1;
      else if (counter.previous > 0) counter.previous -= 1;
    } else if (counter && counter.window === index - 1 && counter.current > 0) {
      counter.current -= 1;
    }
    return Promise.resolve();
  }

  health(): Promise<BackendHealth> {
    return Promise.resolve({ status: "up", latency_ms: 0, backend: "memory" });
  }

  close(): Promise<void> {
    this.#counters.clear();
    return Promise.resolve();
  }

  #consume(policy: string, window: LimitWindow, identifier: string): LimitOutcome {
    assertValidWindow(window);
    const now = this.#now();
    this.#maybeSweep(now);

    const size = window.windowSeconds * 1000;
    const index = Math.floor(now / size);
    // Policies never contain NUL, so distinct (policy, window, identifier) keys cannot collide.
    const key = `${policy}\u0000${window.windowSeconds}\u0000${identifier}`;

    const counter = this.#counters.get(key) ?? this.#create(index);
    if (counter.window !== index) {
      counter.previous = counter.window === index - 1 ? counter.current : 0;
      counter.current = 0;
      counter.window = index;
    }
    counter.expiresAt = (index + 2) * size;
    this.#touch(key, counter);

    const reset = (index + 1) * size;
    const weightedPrevious = Math.floor((1 - (now % size) / size) * counter.previous);
    if (counter.current + weightedPrevious >= window.limit) {
      return { window, success: false, remaining: 0, reset, timedOut: false };
    }
    counter.current += 1;
    const remaining = Math.max(0, window.limit - (counter.current + weightedPrevious));
    return { window, success: true, remaining, reset, timedOut: false };
  }

  #create(index: number): Counter {
    return { window: index, current: 0, previous: 0, expiresAt: 0 };
  }

  #touch(key: string, counter: Counter): void {
    this.#counters.delete(key);
    if (this.#counters.size >= this.#maxKeys) {
      const oldest = this.#counters.keys().next().value;
      if (oldest !== undefined) this.#counters.delete(oldest);
    }
    this.#counters.set(key, counter);
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep < this.#sweepIntervalMs) return;
    this.#lastSweep = now;
    for (const [key, counter] of this.#counters) {
      if (counter.expiresAt <= now) this.#counters.delete(key);
    }
  }
}
