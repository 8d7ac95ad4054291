import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../errors.ts";

/**
 * Parses a JSON body that may be absent (e.g. `POST .../logout` with no body),
 * with the same 400/422 errors as declared bodies.
 */
export async function optionalJsonBody<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<z.infer<T> | undefined> {
  const raw = await c.req.text();
  if (!raw.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError("bad_request", "Malformed JSON in request body.");
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw ApiError.issues(result.error.issues);
  }
  return result.data;
}
