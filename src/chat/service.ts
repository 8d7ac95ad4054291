import type { Sql } from "../db/client.ts";
import type { LlmRouter, ModelRegistry } from "../llm/mod.ts";
import type { Logger } from "../log.ts";
import type { GatehouseMetrics } from "../metrics/gatehouse.ts";
import type { SpendService } from "../spend/service.ts";
import { ConcurrencyLimiter, StreamLimiter } from "./stream_limiter.ts";

/** Default pause between SSE keep-alive comments when nothing else is sent. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** What the chat core uses, and nothing else: built once per app in services.ts. */
export interface ChatService {
  sql: Sql;
  llm: LlmRouter;
  models: ModelRegistry;
  metrics: GatehouseMetrics;
  /** Reserves and settles every model call of a turn. */
  spend: SpendService;
  log: Logger;
  /** Fires when the process starts shutting down: streams end, sockets go away. */
  shutdown: AbortSignal;
  maxPromptChars: number;
  /** Open streams (SSE and WebSocket answers), per principal. */
  streams: StreamLimiter;
  /** Non-streaming model calls in flight, per user. */
  queries: ConcurrencyLimiter;
  /** Silence after which an SSE stream sends `: keep-alive` (tests shorten it). */
  keepAliveMs: number;
}

export interface ChatServiceSettings {
  maxStreamsPerPrincipal: number;
  maxConcurrentQueriesPerUser: number;
  maxPromptChars: number;
}

export function createChatService(
  deps: Pick<ChatService, "sql" | "llm" | "models" | "metrics" | "spend" | "log" | "shutdown">,
  settings: ChatServiceSettings,
): ChatService {
  return {
    ...deps,
    maxPromptChars: settings.maxPromptChars,
    streams: new StreamLimiter(settings.maxStreamsPerPrincipal),
    queries: new ConcurrencyLimiter(
      settings.maxConcurrentQueriesPerUser,
      "concurrent_queries",
      "queries",
    ),
    keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
  };
}
