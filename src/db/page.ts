import type postgres from "postgres";
import type { Db } from "./tx.ts";

/** Which slice of a listing: at most `limit` rows after skipping `offset`. */
export interface Page {
  limit: number;
  offset: number;
}

/** One page of a listing, and how many rows the whole listing has. */
export interface Paged<T> {
  items: T[];
  total: number;
}

/**
 * `select <columns> from <rows> order by <order>`, one page of it, and the number of `<rows>`
 * (two statements, as every listing did). `rows` is the table with its joins and `where`.
 */
export async function selectPage<T extends object>(
  sql: Db,
  query: { columns: postgres.Fragment; rows: postgres.Fragment; order: postgres.Fragment },
  page: Page,
): Promise<Paged<T>> {
  const items = await sql<T[]>`
    select ${query.columns} from ${query.rows}
    order by ${query.order} limit ${page.limit} offset ${page.offset}`;
  const [count] = await sql<{ total: number }[]>`
    select count(*)::int as total from ${query.rows}`;
  return { items: [...items], total: count?.total ?? 0 };
}
