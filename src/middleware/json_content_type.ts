import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** A body sent to the API must be JSON: anything else is 415, before parsing. */
export function requireJsonBodies(): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if (method === "POST" || method === "PUT" || method === "PATCH") {
      const length = c.req.header("content-length");
      const hasBody = c.req.raw.body !== null && length !== "0";
      const type = c.req.header("content-type") ?? "";
      if (hasBody && !JSON_TYPE.test(type)) {
        throw new ApiError("unsupported_media_type", "Send the body as application/json.");
      }
    }
    await next();
  };
}
