/**
 * Process lifecycle shared by routes: readiness turns 503 while draining, and
 * long-lived streams listen to `shutdownSignal` to close before the deadline.
 */
export class Lifecycle {
  #draining = false;
  readonly #controller = new AbortController();

  get draining(): boolean {
    return this.#draining;
  }

  get shutdownSignal(): AbortSignal {
    return this.#controller.signal;
  }

  beginDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#controller.abort(new Error("server is shutting down"));
  }
}
