import type { Principal } from "../principal.ts";
import { ApiError } from "../errors.ts";

/** Gives back a slot; calling it more than once is harmless. */
export type ReleaseStream = () => void;

/**
 * Caps concurrent model work per user (all their sessions and keys together),
 * so one caller cannot hold every upstream connection. Counted per process: a
 * request lives on one instance, and the per-minute rate limit already bounds
 * how fast new ones can be opened anywhere.
 */
export class ConcurrencyLimiter {
  readonly #open = new Map<string, number>();

  /**
   * `policy` names the limit in a 429's detail (`concurrent_streams`,
   * `concurrent_queries`); `what` in its message ("streams", "queries").
   */
  constructor(
    readonly maxPerUser: number,
    private readonly policy = "concurrent_streams",
    private readonly what = "streams",
  ) {}

  /** Takes a slot or throws 429 `rate_limited` (with Retry-After) when all are taken. */
  acquire(principal: Principal): ReleaseStream {
    const key = principal.userId;
    const open = this.#open.get(key) ?? 0;
    if (open >= this.maxPerUser) {
      throw new ApiError(
        "rate_limited",
        `At most ${this.maxPerUser} concurrent ${this.what} per user (sessions and API keys ` +
          "together); wait for one to finish.",
        {
          policy: this.policy,
          scope: "user",
          limit: this.maxPerUser,
          remaining: 0,
          reset: Math.ceil(Date.now() / 1000) + 1,
        },
        { headers: { "Retry-After": "1" } },
      );
    }
    this.#open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left > 0) this.#open.set(key, left);
      else this.#open.delete(key);
    };
  }

  openFor(principal: Principal): number {
    return this.#open.get(principal.userId) ?? 0;
  }
}

/** Concurrent streams (SSE answers, WebSocket answers) per user. */
export class StreamLimiter extends ConcurrencyLimiter {
  constructor(maxPerUser: number) {
    super(maxPerUser, "concurrent_streams", "streams");
  }
}
