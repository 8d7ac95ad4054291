/** refresh_tokens: the rotating refresh tokens of a session (one row per issued token). */
import type { SessionRow } from "./sessions.ts";
import type { Db } from "./tx.ts";

export interface RefreshTokenRow {
  id: string;
  session_id: string;
  token_hash: string;
  used_at: Date | null;
  child_id: string | null;
  child_token_enc: string | null;
}

export async function insertRefreshToken(
  sql: Db,
  input: { sessionId: string; tokenHash: string; parentId: string | null },
): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into refresh_tokens (session_id, token_hash, parent_id)
    values (${input.sessionId}, ${input.tokenHash}, ${input.parentId})
    returning id`;
  return row!.id;
}

/** Locks the token row so parallel refreshes of one token serialise. */
export async function lockRefreshToken(
  sql: Db,
  tokenHash: string,
): Promise<
  (RefreshTokenRow & { session: SessionRow; user_role: string; user_disabled: boolean }) | null
> {
  const [row] = await sql<
    (RefreshTokenRow & {
      s_user_id: string;
      s_created_at: Date;
      s_last_used_at: Date;
      s_expires_at: Date;
      s_revoked_at: Date | null;
      s_user_agent: string | null;
      s_ip: string | null;
      user_role: string;
      user_disabled: boolean;
    })[]
  >`
    select t.id, t.session_id, t.token_hash, t.used_at, t.child_id, t.child_token_enc,
           s.user_id as s_user_id, s.created_at as s_created_at, s.last_used_at as s_last_used_at,
           s.expires_at as s_expires_at, s.revoked_at as s_revoked_at,
           s.user_agent as s_user_agent, s.ip as s_ip,
           u.role as user_role, u.disabled as user_disabled
    from refresh_tokens t
    join sessions s on s.id = t.session_id
    join users u on u.id = s.user_id
    where t.token_hash = ${tokenHash}
    for update of t, s`;
  if (!row) return null;
  return {
    id: row.id,
    session_id: row.session_id,
    token_hash: row.token_hash,
    used_at: row.used_at,
    child_id: row.child_id,
    child_token_enc: row.child_token_enc,
    user_role: row.user_role,
    user_disabled: row.user_disabled,
    session: {
      id: row.session_id,
      user_id: row.s_user_id,
      created_at: row.s_created_at,
      last_used_at: row.s_last_used_at,
      expires_at: row.s_expires_at,
      revoked_at: row.s_revoked_at,
      user_agent: row.s_user_agent,
      ip: row.s_ip,
    },
  };
}

/** Whether `tokenId` is the newest token of its session (nothing replaced it). */
export async function isActiveRefreshToken(sql: Db, tokenId: string): Promise<boolean> {
  const [row] = await sql<{ used_at: Date | null }[]>`
    select used_at from refresh_tokens where id = ${tokenId}`;
  return row !== undefined && row.used_at === null;
}

export async function markRefreshTokenUsed(
  sql: Db,
  input: { id: string; childId: string; childTokenEnc: string },
): Promise<void> {
  await sql`
    update refresh_tokens
    set used_at = now(), child_id = ${input.childId}, child_token_enc = ${input.childTokenEnc}
    where id = ${input.id}`;
}
