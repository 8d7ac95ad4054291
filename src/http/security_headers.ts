import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { setResponseHeader } from "./response_headers.ts";

/**
 * The headers every API answer carries (OWASP REST Security Cheat Sheet). JSON
 * answers hold tokens, keys and personal data, so no cache may keep them
 * (RFC 6749 5.1 requires `no-store` on token answers); a route that sets its
 * own Cache-Control (public discovery documents, metrics) keeps it. Headers
 * that only mean something to an HTML document (X-XSS-Protection,
 * X-Download-Options, X-DNS-Prefetch-Control, Origin-Agent-Cluster, ...) are
 * left off JSON: each header is work on every answer. HTML pages get hono's
 * full document set instead.
 */
export const API_HEADERS: readonly (readonly [string, string])[] = [
  ["Content-Security-Policy", "frame-ancestors 'none'"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Referrer-Policy", "no-referrer"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
];

/**
 * `isDocument`: the paths of the HTML page (Swagger UI) and its assets. They get
 * hono's document set, with a Content-Security-Policy that allows only this
 * origin (the page is where users paste tokens and keys).
 */
export function securityHeaders(
  isDocument: (path: string) => boolean,
  documentCsp: NonNullable<Parameters<typeof secureHeaders>[0]>["contentSecurityPolicy"],
): MiddlewareHandler {
  const documentHeaders = secureHeaders({
    contentSecurityPolicy: documentCsp,
    xFrameOptions: "DENY",
  });
  return async (c, next) => {
    if (isDocument(c.req.path)) return await documentHeaders(c, next);
    await next();
    if (!c.res.headers.has("Cache-Control")) setResponseHeader(c, "Cache-Control", "no-store");
    for (const [name, value] of API_HEADERS) setResponseHeader(c, name, value);
  };
}
