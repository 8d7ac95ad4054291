import type { SSEStreamingApi } from "hono/streaming";

/**
 * Server-Sent Events with keep-alive: after `keepAliveMs` without an event a
 * `: keep-alive` comment goes out, so proxies and load balancers do not cut
 * a stream while a model is thinking. Writes to a client that left are
 * dropped (hono's stream swallows them).
 */
export class SseWriter {
  readonly #stream: SSEStreamingApi;
  readonly #keepAliveMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(stream: SSEStreamingApi, options: { keepAliveMs: number }) {
    this.#stream = stream;
    this.#keepAliveMs = options.keepAliveMs;
    this.#schedule();
  }

  /** One event with a JSON payload. */
  async send(event: string, data: unknown): Promise<void> {
    if (this.#closed) return;
    this.#schedule();
    await this.#stream.writeSSE({ event, data: JSON.stringify(data) });
  }

  /** One unnamed event (`data:` only, as OpenAI's streams send), text as given. */
  async data(text: string): Promise<void> {
    if (this.#closed) return;
    this.#schedule();
    await this.#stream.writeSSE({ data: text });
  }

  /** Stops the keep-alive timer; the stream itself is closed by hono. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      if (this.#closed) return;
      this.#schedule();
      void this.#stream.write(": keep-alive\n\n");
    }, this.#keepAliveMs);
  }
}
