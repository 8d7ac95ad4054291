import type { Services } from "../services.ts";
import { ConcurrencyLimiter, StreamLimiter } from "./stream_limiter.ts";

/** Default pause between SSE keep-alive comments when nothing else is sent. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** Long-lived state of the chat area for one set of services (one app). */
export interface ChatRuntime {
  streams: StreamLimiter;
  /** Non-streaming model calls in flight, per user. */
  queries: ConcurrencyLimiter;
  /** Silence after which an SSE stream sends `: keep-alive` (tests shorten it). */
  keepAliveMs: number;
}

const runtimes = new WeakMap<Services, ChatRuntime>();

/** The runtime of `services`, created on first use (so each test app gets its own). */
export function chatRuntime(services: Services): ChatRuntime {
  let runtime = runtimes.get(services);
  if (!runtime) {
    runtime = {
      streams: new StreamLimiter(services.config.MAX_STREAMS_PER_PRINCIPAL),
      queries: new ConcurrencyLimiter(
        services.config.MAX_CONCURRENT_QUERIES_PER_USER,
        "concurrent_queries",
        "queries",
      ),
      keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
    };
    runtimes.set(services, runtime);
  }
  return runtime;
}
