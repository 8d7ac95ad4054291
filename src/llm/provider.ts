/**
 * The contract every LLM backend implements. Providers are stateless with
 * respect to routing: health, fallback and timeouts live in the router.
 *
 * Error contract: both methods reject/throw only `ProviderError` (see errors.ts),
 * with `code: "aborted"` when `signal` was aborted by the caller and
 * `code: "timeout"` when it was aborted with a `TimeoutError` reason.
 */

/** Why a provider call failed; carried by `ProviderError` (errors.ts) and answers' `error`. */
export type ProviderErrorCode =
  /** The per-model deadline (or the SDK's own timeout) fired. */
  | "timeout"
  /** The caller's signal aborted the call (client went away); not the model's fault. */
  | "aborted"
  /** Upstream answered 429. */
  | "rate_limited"
  /** Upstream rejected our credentials (401/403): a configuration problem. */
  | "auth_failed"
  /** Upstream rejected the request (400/404/422), e.g. unknown upstream model name. */
  | "bad_request"
  /** No HTTP response at all (DNS, refused connection, reset). */
  | "connection_error"
  /** Upstream 5xx, an error event mid-stream, or a malformed/truncated response. */
  | "upstream_error";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface CompletionRequest {
  /** Upstream model name (ModelConfig.upstream ?? id), not the gateway id. */
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Caller abort and deadline, already combined by the router. */
  signal: AbortSignal;
}

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

export interface Completion {
  text: string;
  /** Upstream finish reason ("stop", "length", "content_filter", ...). */
  finishReason: string;
  usage: TokenUsage;
}

/**
 * Streaming events. A successful stream yields any number of `delta`s and ends
 * with exactly one `done`; a failing stream throws instead of yielding `done`.
 */
export type StreamEvent =
  | { type: "delta"; text: string }
  | {
    type: "done";
    finishReason: string;
    usage: TokenUsage;
    /** The provider reported no counts: `usage` is the shared estimate (tokens.ts). */
    usageEstimated?: boolean;
  };

export interface LlmProvider {
  /** Provider name from configuration ("echo" for the built-in one). */
  readonly name: string;
  /** True for built-in fake providers that must be labelled as such in the API. */
  readonly development: boolean;
  complete(req: CompletionRequest): Promise<Completion>;
  /** Breaking out of the iteration early cancels the upstream call. */
  stream(req: CompletionRequest): AsyncIterable<StreamEvent>;
}
