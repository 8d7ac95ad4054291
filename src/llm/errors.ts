/**
 * Typed errors of the LLM layer. Routes map them to HTTP statuses:
 * `UnknownModelError` / `InvalidQueryError` → 422, `AllModelsFailedError` → 503.
 * `ProviderError` is what every provider throws; the router turns it into an
 * answer's `error` and never lets it escape a query.
 */
import type { ProviderErrorCode } from "./provider.ts";
import type { Answer } from "./query_types.ts";

export type { ProviderErrorCode };

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
