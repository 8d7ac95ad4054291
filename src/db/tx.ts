import type postgres from "postgres";
import type { Sql } from "./client.ts";

/** A connection inside `sql.begin`, or the pool itself: query functions accept either. */
export type Tx = postgres.TransactionSql<Record<string, never>>;
export type Db = Sql | Tx;

/** Postgres unique_violation, for turning duplicates into 409s. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null &&
    (error as { code?: string }).code === "23505";
}
