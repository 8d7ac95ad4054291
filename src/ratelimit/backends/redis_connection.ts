/**
 * A lazily (re)connecting node-redis client that never makes callers wait on a dead server.
 *
 * node-redis' own reconnect loop keeps commands pending (offline queue) or keeps timers
 * running in the background. For a rate limiter both are wrong: a request must learn within
 * milliseconds that Redis is unavailable so it can fail open. So:
 *   - reconnectStrategy is disabled and the offline queue is off: a dropped connection turns
 *     the client into a closed one and commands on it reject immediately;
 *   - the next caller opens a fresh client (single-flight, bounded by connectTimeoutMs);
 *   - after a failed attempt, callers fail instantly until a short, growing cool-down passes,
 *     so an outage costs one connect attempt per cool-down rather than one per request.
 * No background timers exist, which also keeps Deno's test sanitizers quiet.
 */
import { createClient } from "redis";

/** The subset of the node-redis client API this module relies on. */
export interface RespClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(args: readonly string[]): Promise<unknown>;
  multi(): RespMulti;
  close(): Promise<void>;
  destroy(): void;
}

export interface RespMulti {
  addCommand(args: readonly string[]): RespMulti;
  exec(): Promise<unknown[]>;
}

export interface RedisConnectionOptions {
  /** Upper bound for TCP connect + handshake. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** First cool-down after a failed connect; doubles per failure. Default 100 ms. */
  minRetryDelayMs?: number;
  /** Cool-down ceiling. Default 2000 ms. */
  maxRetryDelayMs?: number;
  /** CLIENT SETNAME for every connection, to spot them in CLIENT LIST. */
  clientName?: string;
  /** Observes connection-level errors (node-redis 'error' events and failed connects). */
  onError?: (error: unknown) => void;
}

export class RedisUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}

export class RedisConnection {
  readonly #url: string;
  readonly #connectTimeoutMs: number;
  readonly #minRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #clientName?: string;
  readonly #onError?: (error: unknown) => void;

  #client: RespClient | null = null;
  #connecting: Promise<RespClient> | null = null;
  #failures = 0;
  #retryAt = 0;
  #lastError: unknown = null;
  #closed = false;

  constructor(url: string, options: RedisConnectionOptions = {}) {
    // Fail at startup on a malformed URL instead of failing open on every request.
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new TypeError("Invalid Redis URL");
    }
    if (protocol !== "redis:" && protocol !== "rediss:") {
      throw new TypeError(`Unsupported Redis URL scheme "${protocol}" (use redis: or rediss:)`);
    }
    this.#url = url;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.#minRetryDelayMs = options.minRetryDelayMs ?? 100;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
    this.#clientName = options.clientName;
    this.#onError = options.onError;
  }

  /** A ready client, or a rejection as soon as it is clear none is available. */
  get(): Promise<RespClient> {
    if (this.#closed) return Promise.reject(new RedisUnavailableError("Redis connection closed"));
    const current = this.#client;
    if (current?.isReady) return Promise.resolve(current);
    if (current) {
      // Closed by a socket error (reconnects are ours to do); release it.
      this.#client = null;
      current.destroy();
    }
    if (this.#connecting) return this.#connecting;
    const wait = this.#retryAt - Date.now();
    if (wait > 0) {
      return Promise.reject(
        new RedisUnavailableError(
          `Redis unavailable (${describe(this.#lastError)}); next attempt in ${wait} ms`,
          { cause: this.#lastError },
        ),
      );
    }
    this.#connecting = this.#connect().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  /** Drops the current client (it stopped answering); waiting commands reject, the next get() reconnects. */
  abandon(reason: string): void {
    const client = this.#client;
    if (!client) return;
    this.#client = null;
    this.#lastError = new RedisUnavailableError(reason);
    this.#onError?.(this.#lastError);
    client.destroy();
  }

  /** Waits for in-flight commands, then closes. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    if (client.isOpen) {
      await client.close().catch(() => client.destroy());
    } else {
      client.destroy();
    }
  }

  async #connect(): Promise<RespClient> {
    const raw = createClient({
      url: this.#url,
      // Upstash's REST protocol mirrors RESP2 shapes (flat arrays, no maps/doubles).
      RESP: 2,
      name: this.#clientName,
      disableOfflineQueue: true,
      // node-redis arms an uncancellable AbortSignal.timeout (5 s default) per command;
      // under load those timers cost more than the commands. The adapter's
      // StallWatchdog bounds a silent server with one timer instead.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: this.#connectTimeoutMs, reconnectStrategy: false },
    });
    // Without a listener an 'error' event would be thrown as an uncaught exception.
    raw.on("error", (error: unknown) => {
      this.#lastError = error;
      this.#onError?.(error);
    });
    const client = raw as unknown as RespClient;

    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = raw.connect();
    try {
      // connectTimeout only covers TCP; this also bounds a handshake that never answers.
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RedisUnavailableError("Redis connect timed out")),
            this.#connectTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      connecting.catch(() => {}); // it may still settle after destroy()
      client.destroy();
      this.#failures++;
      this.#lastError = error;
      this.#retryAt = Date.now() +
        Math.min(this.#minRetryDelayMs * 2 ** (this.#failures - 1), this.#maxRetryDelayMs);
      this.#onError?.(error);
      throw new RedisUnavailableError(`Redis unavailable (${describe(error)})`, { cause: error });
    } finally {
      clearTimeout(timer);
    }

    if (this.#closed) {
      // close() was called while we were connecting.
      client.destroy();
      throw new RedisUnavailableError("Redis connection closed");
    }
    this.#failures = 0;
    this.#retryAt = 0;
    this.#client = client;
    return client;
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describe).join("; ");
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
