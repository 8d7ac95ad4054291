/**
 * Notices a connection that stopped answering, with one timer per connection
 * instead of one per command. Redis answers in order, so while commands are
 * outstanding some reply must arrive every `timeoutMs`; if none does, the
 * connection is declared stalled (the owner destroys it, which rejects every
 * waiting command). Per-command timeouts in node-redis are `AbortSignal.timeout`
 * timers that cannot be cancelled and fired after every command under load.
 */
export class StallWatchdog {
  readonly #timeoutMs: number;
  readonly #onStall: () => void;
  #outstanding = 0;
  #lastProgress = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeoutMs: number, onStall: () => void) {
    if (!(timeoutMs > 0)) throw new RangeError("timeoutMs must be > 0");
    this.#timeoutMs = timeoutMs;
    this.#onStall = onStall;
  }

  /** Watches `command` until it settles; returns it unchanged. */
  watch<T>(command: Promise<T>): Promise<T> {
    if (this.#outstanding++ === 0) this.#lastProgress = performance.now();
    this.#timer ??= setTimeout(() => this.#check(), this.#timeoutMs);
    const settled = () => {
      this.#outstanding--;
      this.#lastProgress = performance.now();
    };
    command.then(settled, settled);
    return command;
  }

  /** Stops the timer (on close). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#outstanding === 0) return;
    const silentFor = performance.now() - this.#lastProgress;
    if (silentFor >= this.#timeoutMs) {
      // The destroyed connection rejects what is outstanding; counts settle through watch().
      this.#lastProgress = performance.now();
      this.#onStall();
    }
    if (this.#outstanding > 0) {
      this.#timer = setTimeout(
        () => this.#check(),
        Math.max(1, this.#timeoutMs - (performance.now() - this.#lastProgress)),
      );
    }
  }
}
