import type { Principal } from "../auth/principal.ts";
import { ApiError } from "../errors.ts";

/** Gives back a slot; calling it more than once is harmless. */
export type ReleaseStream = () => void;

/**
 * Caps concurrent streams (SSE responses, WebSocket answers) per principal, so
 * one caller cannot hold every upstream connection. Counted per process: a
 * stream lives on one instance, and the per-minute rate limit already bounds
 * how fast new ones can be opened anywhere.
 */
export class StreamLimiter {
  readonly #open = new Map<string, number>();

  constructor(readonly maxPerPrincipal: number) {}

  /** Takes a slot or throws 429 `rate_limited` (with Retry-After) when all are taken. */
  acquire(principal: Principal): ReleaseStream {
    const key = streamKey(principal);
    const open = this.#open.get(key) ?? 0;
    if (open >= this.maxPerPrincipal) {
      throw new ApiError(
        "rate_limited",
        `At most ${this.maxPerPrincipal} concurrent streams per caller; wait for one to finish.`,
        {
          policy: "concurrent_streams",
          scope: principal.type === "api_key" ? "api_key" : "user",
          limit: this.maxPerPrincipal,
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
    return this.#open.get(streamKey(principal)) ?? 0;
  }
}

/** The same identity the rate limits use: the API key, else the user. */
function streamKey(principal: Principal): string {
  return principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId}`;
}
