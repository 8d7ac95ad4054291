import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { setResponseHeader } from "./response_headers.ts";

/**
 * CORS for the configured browser origins only. Requests without an Origin
 * header (servers, CLIs, probes) skip the middleware, which costs a response
 * copy, and only get `Vary: Origin` so shared caches keep the variants apart.
 * With no origins configured there is nothing to allow and nothing to vary.
 */
export function corsPolicy(origins: readonly string[]): MiddlewareHandler {
  if (origins.length === 0) return (_c, next) => next();
  const handle = cors({
    origin: [...origins],
    allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "X-API-Key", "X-Request-Id"],
    exposeHeaders: [
      "X-Request-Id",
      "X-RateLimit-Limit",
      "X-RateLimit-Remaining",
      "X-RateLimit-Reset",
      "RateLimit-Policy",
      "RateLimit",
      "Retry-After",
    ],
    credentials: true,
    maxAge: 600,
  });
  return async (c, next) => {
    if (c.req.header("origin") !== undefined) return handle(c, next);
    await next();
    setResponseHeader(c, "Vary", "Origin", "append");
  };
}
