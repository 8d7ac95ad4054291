/**
 * Paged lists, the same in every operation that lists: the `limit`/`offset` query, the page
 * response (schema and example) and the page body.
 */
import { z } from "@hono/zod-openapi";
import { jsonResponse } from "./openapi_responses.ts";
import { intQuery } from "./shared_schemas.ts";

/** `limit` (1..100, default 20) and `offset` (default 0) on every list. */
export const PageQuery = z.object({
  limit: intQuery(1, 100, 20),
  offset: intQuery(0, 1_000_000, 0),
});

const PageCount = z.number().int().min(0).max(2_147_483_647).openapi({ format: "int32" });

function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    items: z.array(item).max(100),
    limit: PageCount,
    offset: PageCount,
    total: PageCount,
  }).openapi(name);
}

/**
 * A list's 200: a page of `item`s, named `name` in the document; `example` is its first page
 * (the default `limit` and `offset`).
 */
export function pageResponse<T extends z.ZodType>(
  item: T,
  name: string,
  description: string,
  example: z.output<T>[],
) {
  return jsonResponse(pageOf(item, name), description, {
    example: { items: example, limit: 20, offset: 0, total: example.length },
  });
}

/** A page as lists answer it: the rows, mapped, with the request's `limit` and `offset`. */
export function pageBody<R, T>(
  page: { limit: number; offset: number },
  rows: { items: R[]; total: number },
  map: (row: R) => T,
) {
  return {
    items: rows.items.map((row) => map(row)),
    limit: page.limit,
    offset: page.offset,
    total: rows.total,
  };
}
