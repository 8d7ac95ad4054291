/**
 * Whether an error means the database could not be reached (as opposed to a
 * query it refused): the contract answers those with 503, not 500.
 */

/** postgres.js connection-level codes. */
const CLIENT_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** Socket errors as Node (and Deno's node:net) name them. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOTCONN",
]);

/** Server-side SQLSTATEs that mean "not available now": class 08 and shutdown. */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;

/** Deno's own network error classes, when one reaches us unwrapped. */
const DENO_ERRORS = [
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "BrokenPipe",
  "TimedOut",
] as const;

export function isDatabaseUnavailable(error: unknown): boolean {
  // Causes are followed a few levels: wrappers keep the original as `cause`.
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      if (CLIENT_CODES.has(code) || SOCKET_CODES.has(code)) return true;
      if (UNAVAILABLE_SQLSTATE.test(code)) return true;
    }
    for (const name of DENO_ERRORS) {
      const type = Deno.errors[name];
      if (type && current instanceof type) return true;
    }
    current = current.cause;
  }
  return false;
}
