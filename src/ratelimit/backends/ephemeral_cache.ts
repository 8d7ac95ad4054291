/**
 * A size-capped Map for @upstash/ratelimit's `ephemeralCache`.
 *
 * The library remembers "identifier blocked until <reset>" in a Map so repeat offenders are
 * rejected without a Redis round trip, but it only deletes an entry when that identifier is
 * seen again after the reset. With attacker-chosen identifiers (IPs, login names) a plain Map
 * grows without bound. Evicting the oldest entry is always safe: the next request for that
 * identifier simply asks Redis again, which still enforces the limit.
 */
export class BoundedEphemeralCache extends Map<string, number> {
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    super();
    this.#maxEntries = Math.max(1, maxEntries);
  }

  override set(key: string, value: number): this {
    if (!this.has(key) && this.size >= this.#maxEntries) {
      const oldest = this.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    return super.set(key, value);
  }
}
