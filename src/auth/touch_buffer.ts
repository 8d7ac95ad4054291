/**
 * Collects "last used" times in memory and writes them in one batched UPDATE
 * per interval, so authentication never costs a database write per request.
 */
export class TouchBuffer {
  #pending = new Map<string, Date>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly write: (touches: Map<string, Date>) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    intervalMs: number,
  ) {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    // A pending flush must not keep a finished process alive.
    Deno.unrefTimer(this.#timer);
  }

  touch(id: string, at = new Date()): void {
    this.#pending.set(id, at);
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    try {
      await this.write(batch);
    } catch (error) {
      this.onError(error);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
