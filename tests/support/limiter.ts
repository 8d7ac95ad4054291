/** The rate-limiter backends a test can run against, and keeping a burst inside one window. */
import { TEST_REDIS_URL } from "./harness.ts";
import { startUpstashRestServer } from "./upstash_rest_server.ts";

/** A limiter backend: the environment that selects it, and how to stop what it started. */
export interface LimiterBackend {
  name: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Every limiter backend this run can reach: memory always; with TEST_REDIS_URL also Redis,
 * and Upstash (its REST protocol, served locally over the real Redis).
 */
export async function limiterBackends(): Promise<LimiterBackend[]> {
  const list: LimiterBackend[] = [{
    name: "memory",
    env: { RATE_LIMIT_BACKEND: "memory" },
    close: async () => {},
  }];
  if (TEST_REDIS_URL) {
    list.push({
      name: "redis",
      env: { RATE_LIMIT_BACKEND: "redis", REDIS_URL: TEST_REDIS_URL },
      close: async () => {},
    });
    const token = crypto.randomUUID();
    const upstash = await startUpstashRestServer(TEST_REDIS_URL, token);
    list.push({
      name: "upstash (REST protocol over HTTP)",
      env: {
        RATE_LIMIT_BACKEND: "upstash",
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: token,
        // The harness deletes keys through REDIS_URL after each app.
        REDIS_URL: TEST_REDIS_URL,
      },
      close: () => upstash.close(),
    });
  }
  return list;
}

/**
 * Waits for the next fixed window of `windowSeconds` when less than `marginMs` is left of
 * this one, so a burst of requests stays inside one window and its counts are exact.
 */
export async function awayFromWindowBoundary(
  windowSeconds = 60,
  marginMs = 5000,
): Promise<void> {
  const size = windowSeconds * 1000;
  const left = size - (Date.now() % size);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}
