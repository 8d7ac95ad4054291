import type { Context } from "hono";
import { ApiError } from "../errors.ts";
import type { RateLimitOutcome } from "../metrics/gatehouse.ts";
import { rateLimitErrorDetail, rateLimitHeaders } from "./headers.ts";
import type { Decision } from "./policies.ts";

/** Where each decision is counted (the HTTP side passes the process metrics). */
export interface DecisionRecorder {
  recordRateLimit(scope: string, outcome: RateLimitOutcome): void;
}

/**
 * Puts a decision on the response: headers always; a 429 when denied; and for
 * strict policies (register, login, refresh) a 503 when the backend could not
 * answer, because failing open there would disable brute-force protection.
 */
export function enforceDecision(
  c: Context,
  decision: Decision,
  strict: boolean,
  recorder: DecisionRecorder,
): void {
  for (const [name, value] of Object.entries(admitOrThrow(decision, strict, recorder))) {
    c.header(name, value);
  }
}

/**
 * `enforceDecision` without touching the response: returns the headers an
 * admitted request's answer must carry, so a middleware can set them in place
 * on the finished response (`c.header()` before the handler makes every answer
 * copy a prepared header list).
 */
export function admitOrThrow(
  decision: Decision,
  strict: boolean,
  recorder: DecisionRecorder,
): Record<string, string> {
  recorder.recordRateLimit(
    decision.scope,
    decision.timedOut
      ? (strict ? "failed_closed" : "failed_open")
      : decision.success
      ? "allowed"
      : "denied",
  );
  if (decision.timedOut && strict) {
    throw new ApiError("service_unavailable", "Rate limiting is unavailable; try again shortly.");
  }
  const headers = rateLimitHeaders(decision.outcomes);
  if (!decision.success) {
    throw new ApiError("rate_limited", "Rate limit exceeded.", {
      ...rateLimitErrorDetail(decision.outcomes, decision.scope),
    }, { headers });
  }
  return headers;
}
