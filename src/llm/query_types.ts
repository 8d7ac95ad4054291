/**
 * Public shapes of the router: query options, answers, results and stream
 * events. Field names are snake_case where they are meant to be serialized
 * to API clients as-is.
 */
import type { CallGate } from "./gate.ts";
import type { ChatMessage, ProviderErrorCode, TokenUsage } from "./provider.ts";

export type QueryMode = "speed" | "balanced" | "quality";
export const QUERY_MODES: readonly QueryMode[] = ["speed", "balanced", "quality"];

/** Quality mode fans out to this many models unless told otherwise. */
export const DEFAULT_QUALITY_MODELS = 3;
/** Upper bound for `maxModels` (parallel upstream calls per query). */
export const MAX_QUALITY_MODELS = 5;

export interface QueryOptions {
  mode: QueryMode;
  /** Restricts the candidate set; unknown ids → UnknownModelError. */
  models?: string[];
  /**
   * Quality mode only: 1..MAX_QUALITY_MODELS. Default: DEFAULT_QUALITY_MODELS,
   * or the number of explicitly listed `models` (capped at MAX_QUALITY_MODELS).
   */
  maxModels?: number;
  messages: ChatMessage[];
  temperature?: number;
  /** Output cap sent upstream; default the router's DEFAULT_MAX_OUTPUT_TOKENS. */
  maxTokens?: number;
  /**
   * The chunks reach a client as they arrive (SSE, WebSocket): once a model has
   * sent content, its failure ends that answer as `incomplete` (with `error`)
   * instead of falling back, since a second model's text would be spliced onto
   * the first's. Without it (a JSON answer) any failure falls back.
   */
  streamed?: boolean;
  /** Aborting it cancels every upstream call of the query. */
  signal: AbortSignal;
  /** Reserves every model call before it goes upstream and settles it after (spend). */
  gate: CallGate;
  /**
   * Who asks (the user id): failures are attributed to it, so one caller's
   * failing calls never open a model's breaker for everyone (see health.ts).
   */
  principal?: string;
}

export type AnswerStatus =
  /** The model finished (any finish_reason, including "length"). */
  | "complete"
  /**
   * Cut short: the caller aborted, or (streamed, with `error`) the model failed
   * after its content had reached the client. `content` holds what was generated.
   */
  | "incomplete"
  /** The model failed (error, timeout, rate limit...); `error` says why. */
  | "error";

export interface AnswerError {
  /** `rate_limited` also when the spend gate refused this model's reservation. */
  code: ProviderErrorCode | "model_unavailable" | "budget_unavailable";
  message: string;
}

export interface Answer {
  model: string;
  content: string;
  /** Upstream finish reason; null unless status is "complete". */
  finish_reason: string | null;
  latency_ms: number;
  /** Reported by the upstream when complete; estimated (tokens.ts) for partial output, 0/0 if none. */
  usage: TokenUsage;
  cost_usd: number;
  error?: AnswerError;
  status: AnswerStatus;
}

export interface QueryResult {
  /**
   * Every attempt, in order: quality mode has one entry per model (rank order);
   * speed/balanced list failed fallback attempts before the answer that succeeded.
   */
  answers: Answer[];
  /** Index of the best-ranked complete answer; null when none completed. */
  selected: number | null;
  /** The query was cancelled by the caller (some answer is "incomplete" without an error). */
  aborted: boolean;
}

export type QueryEvent =
  /** First event: the models that start answering (quality: all of them; else the first choice). */
  | { type: "meta"; mode: QueryMode; models: string[] }
  | { type: "chunk"; model: string; delta: string }
  /** A model finished successfully. */
  | {
    type: "usage";
    model: string;
    usage: TokenUsage;
    cost_usd: number;
    latency_ms: number;
    finish_reason: string;
  }
  /** A model failed; `fallback` is the model tried next (speed/balanced), if any. */
  | { type: "model_error"; model: string; error: AnswerError; fallback: string | null }
  /** Last event; same data as `QueryStream.result`. */
  | ({ type: "done" } & QueryResult);

/**
 * A running streamed query. Upstream calls start when iteration starts;
 * leaving the iteration early (break/return) aborts them. `result` settles when
 * the iteration has ended (normally, by abort, or by the consumer leaving) and
 * never rejects: check `selected === null` for "all failed".
 */
export interface QueryStream extends AsyncIterable<QueryEvent> {
  /** The models announced by the `meta` event. */
  readonly models: readonly string[];
  readonly result: Promise<QueryResult>;
}
