import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** True when the request carries at least one body byte, however it is framed. */
async function hasBodyBytes(c: Context): Promise<boolean> {
  if (c.req.raw.body === null) return false;
  const length = c.req.header("content-length");
  if (length !== undefined && /^\d+$/.test(length.trim())) return Number(length) > 0;
  // No Content-Length (bodiless `curl -X POST`, or chunked): read it; the body limit
  // already wraps the stream, and hono caches what was read for the handler.
  return (await c.req.arrayBuffer()).byteLength > 0;
}

/**
 * A body sent to the API must be JSON: anything else is 415, before parsing.
 * An empty body is no body, however it is framed (no Content-Length, `0`, or an
 * empty chunked stream), so operations whose body is optional accept it. Only
 * routed methods are checked: a POST to a GET-only path is the 405's to answer.
 */
export function requireJsonBodies(
  isRouted: (method: string, path: string) => boolean,
): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if (
      (method === "POST" || method === "PUT" || method === "PATCH") && isRouted(method, c.req.path)
    ) {
      const type = c.req.header("content-type") ?? "";
      const hasBody = await hasBodyBytes(c);
      if (hasBody && !JSON_TYPE.test(type)) {
        throw new ApiError("unsupported_media_type", "Send the body as application/json.");
      }
      if (!hasBody && type) {
        // An empty body with a Content-Type is still no body: without the type the
        // validators treat it as absent (optional bodies) or `{}` (required: 422).
        const headers = new Headers(c.req.raw.headers);
        headers.delete("content-type");
        headers.delete("content-length");
        headers.delete("transfer-encoding");
        c.req.raw = new Request(c.req.raw.url, { method, headers });
      }
    }
    await next();
  };
}
