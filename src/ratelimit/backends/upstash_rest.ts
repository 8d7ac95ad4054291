/**
 * The hosted-Upstash backend: @upstash/redis' own HTTP client, tuned to fail fast.
 *
 * Defaults of @upstash/redis are built for serverless jobs, not a request path: no request
 * timeout and 5 retries with exponential backoff (~8 s worst case). A rate-limit check that
 * cannot be answered quickly is useless, so every request gets an AbortSignal deadline and at
 * most one quick retry on network errors.
 */
import { Redis } from "@upstash/redis";

export interface UpstashRestOptions {
  /** UPSTASH_REDIS_REST_URL */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  token: string;
  /** Deadline per HTTP request. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Retries after a network error (not after HTTP errors). Default 1. */
  retries?: number;
}

export interface UpstashRestClient {
  readonly redis: Redis;
  /** Round-trip latency of a PING in milliseconds. */
  ping(): Promise<number>;
  /** fetch() keeps no per-client state worth tearing down; present for interface symmetry. */
  close(): Promise<void>;
}

export function createUpstashRestClient(options: UpstashRestOptions): UpstashRestClient {
  const requestTimeoutMs = options.requestTimeoutMs ?? 2000;
  const redis = new Redis({
    url: options.url,
    token: options.token,
    // A function gives each request its own deadline; an aborted request is rethrown
    // (with a static signal the client would instead resolve it as a fake result).
    signal: () => AbortSignal.timeout(requestTimeoutMs),
    retry: { retries: options.retries ?? 1, backoff: () => 50 },
    enableTelemetry: false,
    // Auto-pipelining stays on (library default): concurrent checks issued in the same tick
    // share one HTTP round trip.
  });
  return {
    redis,
    async ping(): Promise<number> {
      const started = performance.now();
      await redis.ping();
      return performance.now() - started;
    },
    close: () => Promise.resolve(),
  };
}
