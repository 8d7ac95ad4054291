import type { Context } from "hono";

/**
 * Sets a header on the finished response in place. Hono's `c.header()` after
 * the handler copies the whole Response, which showed up in profiles of every
 * request; in place is what its own secureHeaders does. Responses whose headers
 * are immutable (from `fetch`, `Response.redirect`) fall back to the copy.
 */
export function setResponseHeader(
  c: Context,
  name: string,
  value: string,
  mode: "set" | "append" = "set",
): void {
  try {
    c.res.headers[mode](name, value);
  } catch {
    c.header(name, value, { append: mode === "append" });
  }
}
