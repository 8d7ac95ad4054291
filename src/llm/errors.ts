/**
 * Typed errors of the LLM layer. Routes map them to HTTP statuses:
 * `UnknownModelError` / `InvalidQueryError` → 422, `AllModelsFailedError` → 503.
 * `ProviderError` is what every provider throws; the router turns it into an
 * answer's `error` and never lets it escape a query.
 */
import type { Answer } from "./query_types.ts";

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

export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  /** Upstream HTTP status when there was one. */
  readonly status: number | undefined;
  readonly provider: string;

  constructor(
    provider: string,
    code: ProviderErrorCode,
    message: string,
    status?: number,
  ) {
    super(message);
    // Aborts/timeouts carry the DOM names too, so generic checks such as
    // `err.name === "AbortError"` keep working on our typed errors.
    this.name = code === "aborted"
      ? "AbortError"
      : code === "timeout"
      ? "TimeoutError"
      : "ProviderError";
    this.code = code;
    this.status = status;
    this.provider = provider;
  }
}

/** The request named model ids that are not configured. */
export class UnknownModelError extends Error {
  override readonly name = "UnknownModelError";
  constructor(readonly unknown: string[]) {
    super(`unknown model(s): ${unknown.join(", ")}`);
  }
}

/** The query options are inconsistent (e.g. max_models out of range, no messages). */
export class InvalidQueryError extends Error {
  override readonly name = "InvalidQueryError";
}

/**
 * No model produced an answer. `answers` carries one error entry per attempted
 * (or skipped-as-unavailable) model so the route can explain why.
 */
export class AllModelsFailedError extends Error {
  override readonly name = "AllModelsFailedError";
  constructor(readonly answers: Answer[]) {
    super(
      answers.length === 0
        ? "no model available"
        : `all models failed: ${
          answers.map((a) => `${a.model} (${a.error?.code ?? a.status})`).join(", ")
        }`,
    );
  }
}
