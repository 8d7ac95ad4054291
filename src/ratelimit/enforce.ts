import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { ApiError } from "../errors.ts";
import { rateLimitErrorDetail, rateLimitHeaders } from "./headers.ts";
import type { Decision } from "./policies.ts";

/**
 * Puts a decision on the response: headers always; a 429 when denied; and for
 * strict policies (register, login, refresh) a 503 when the backend could not
 * answer, because failing open there would disable brute-force protection.
 */
export function enforceDecision(c: Context, decision: Decision, strict: boolean): void {
  for (const [name, value] of Object.entries(admitOrThrow(c, decision, strict))) {
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
  c: Context,
  decision: Decision,
  strict: boolean,
): Record<string, string> {
  (c as Context<AppEnv>).get("services")?.metrics.recordRateLimit(
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
