import type { Db } from "./tx.ts";

export interface LastSessionRow {
  user_agent: string | null;
  created_at: Date;
  last_used_at: Date;
}

/** The user's most recently used unrevoked session, if any: where they were last seen. */
export async function findLastSession(sql: Db, userId: string): Promise<LastSessionRow | null> {
  const [row] = await sql<LastSessionRow[]>`
    select user_agent, created_at, last_used_at from sessions
    where user_id = ${userId} and revoked_at is null
    order by last_used_at desc limit 1`;
  return row ?? null;
}
