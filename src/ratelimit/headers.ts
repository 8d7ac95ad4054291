/**
 * Response headers and 429 details derived from rate-limit outcomes. Pure: no I/O, clock
 * injectable.
 *
 * Two header families are emitted:
 *   - the de-facto `X-RateLimit-Limit/Remaining/Reset` (reset as unix SECONDS) for the most
 *     constrained window, which most client SDKs understand;
 *   - the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy`
 *     lists every window as `"name";q=<quota>;w=<window seconds>`, and `RateLimit` reports
 *     the most constrained one as `"name";r=<remaining>;t=<seconds until reset>`.
 * On denial `Retry-After` (delta seconds, at least 1) tells clients when to come back.
 */
import { type LimitOutcome, mostConstrained } from "./outcome.ts";

export interface RateLimitErrorDetail {
  /** Window that denied the request ("minute", "day", ...). */
  policy: string;
  /** What was being limited ("api_key", "ip", "login-account", ...). */
  scope: string;
  limit: number;
  remaining: number;
  /** Unix epoch SECONDS. */
  reset: number;
}

export function rateLimitHeaders(
  outcomes: readonly LimitOutcome[],
  now: number = Date.now(),
): Record<string, string> {
  const constrained = mostConstrained(outcomes);
  const name = quote(constrained.window.name);
  const headers: Record<string, string> = {
    "X-RateLimit-Limit": String(constrained.window.limit),
    "X-RateLimit-Remaining": String(constrained.remaining),
    "X-RateLimit-Reset": String(Math.ceil(constrained.reset / 1000)),
    "RateLimit-Policy": outcomes
      .map((o) => `${quote(o.window.name)};q=${o.window.limit};w=${o.window.windowSeconds}`)
      .join(", "),
    "RateLimit": `${name};r=${constrained.remaining};t=${secondsUntil(constrained.reset, now)}`,
  };
  if (!constrained.success) {
    headers["Retry-After"] = String(Math.max(1, secondsUntil(constrained.reset, now)));
  }
  return headers;
}

/** Body detail for a 429, describing the window that denied the request. */
export function rateLimitErrorDetail(
  outcomes: readonly LimitOutcome[],
  scope: string,
): RateLimitErrorDetail {
  const constrained = mostConstrained(outcomes);
  return {
    policy: constrained.window.name,
    scope,
    limit: constrained.window.limit,
    remaining: constrained.remaining,
    reset: Math.ceil(constrained.reset / 1000),
  };
}

function secondsUntil(resetMs: number, now: number): number {
  return Math.max(0, Math.ceil((resetMs - now) / 1000));
}

/** Structured-field sf-string: escape `\` and `"`. */
function quote(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
