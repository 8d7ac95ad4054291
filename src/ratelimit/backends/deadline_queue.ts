/**
 * Deadlines for many concurrent calls with one timer. Every call gets the same
 * timeout, so deadlines arrive in insertion order and a FIFO is enough: the
 * timer only wakes for the oldest unexpired entry, and entries that settled in
 * time are dropped lazily when it does. A timer per call (what @upstash/ratelimit
 * does with its `timeout` option) showed up as one of the larger costs of a
 * rate-limited request.
 */
interface Entry {
  at: number;
  done: boolean;
  expire(): void;
}

export class DeadlineQueue {
  readonly #timeoutMs: number;
  #entries: Entry[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeoutMs: number) {
    if (!(timeoutMs > 0)) throw new RangeError("timeoutMs must be > 0");
    this.#timeoutMs = timeoutMs;
  }

  /** `work`'s outcome, or `onTimeout()`'s value if `work` takes longer than the timeout. */
  race<T, F>(work: Promise<T>, onTimeout: () => F): Promise<T | F> {
    return new Promise<T | F>((resolve, reject) => {
      const entry: Entry = {
        at: performance.now() + this.#timeoutMs,
        done: false,
        expire: () => {
          entry.done = true;
          try {
            resolve(onTimeout());
          } catch (error) {
            reject(error);
          }
        },
      };
      this.#entries.push(entry);
      this.#timer ??= setTimeout(() => this.#expire(), this.#timeoutMs);
      work.then(
        (value) => {
          if (entry.done) return;
          entry.done = true;
          resolve(value);
        },
        (error) => {
          if (entry.done) return;
          entry.done = true;
          reject(error);
        },
      );
    });
  }

  /** Stops the timer; pending calls still settle with their work (on close). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#entries = [];
    this.#head = 0;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      if (!entry.done && entry.at > now) break;
      this.#head++;
      if (!entry.done) entry.expire();
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    const next = this.#entries[this.#head];
    if (next) this.#timer = setTimeout(() => this.#expire(), Math.max(1, next.at - now));
  }
}
