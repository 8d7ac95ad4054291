/**
 * A minimal unbounded single-consumer async queue: producers (one per model
 * call) push events, one consumer iterates them in arrival order. This is what
 * interleaves the chunks of parallel models. Unbounded is fine here: LLM
 * output is small and the consumer is a network writer.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiter: ((r: IteratorResult<T, undefined>) => void) | null = null;
  #closed = false;

  /** Ignored after close() (late events of cancelled producers are dropped). */
  push(item: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  /** Items already queued are still delivered, then iteration ends. */
  close(): void {
    this.#closed = true;
    if (this.#waiter && this.#items.length === 0) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#items.length > 0) {
      return Promise.resolve({ value: this.#items.shift() as T, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return { next: () => this.next() };
  }
}
