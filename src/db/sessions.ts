import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

export interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  user_agent: string | null;
  ip: string | null;
}

export interface RefreshTokenRow {
  id: string;
  session_id: string;
  token_hash: string;
  used_at: Date | null;
  child_id: string | null;
  child_token_enc: string | null;
}

export async function insertSession(
  sql: Db,
  input: { userId: string; expiresAt: Date; userAgent: string | null; ip: string | null },
): Promise<SessionRow> {
  const [row] = await sql<SessionRow[]>`
    insert into sessions (user_id, expires_at, user_agent, ip)
    values (${input.userId}, ${input.expiresAt}, ${input.userAgent}, ${input.ip})
    returning id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip`;
  return row!;
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

export async function touchSession(sql: Db, sessionId: string): Promise<void> {
  await sql`update sessions set last_used_at = now() where id = ${sessionId}`;
}

export async function revokeSession(
  sql: Db,
  sessionId: string,
  reason: string,
  userId?: string,
): Promise<boolean> {
  const rows = await sql`
    update sessions set revoked_at = now(), revoked_reason = ${reason}
    where id = ${sessionId} and revoked_at is null
      and (${userId ?? null}::uuid is null or user_id = ${userId ?? null}::uuid)
    returning id`;
  return rows.length > 0;
}

export async function revokeAllSessions(sql: Db, userId: string, reason: string): Promise<number> {
  const rows = await sql`
    update sessions set revoked_at = now(), revoked_reason = ${reason}
    where user_id = ${userId} and revoked_at is null
    returning id`;
  return rows.length;
}

/** What the auth middleware needs to accept an access token's session. */
export interface SessionStatus {
  user_id: string;
  revoked: boolean;
  expires_at: Date;
  last_used_at: Date;
  disabled: boolean;
  role: string;
  tier: string;
  email: string;
}

export async function getSessionStatus(sql: Db, sessionId: string): Promise<SessionStatus | null> {
  const [row] = await sql<SessionStatus[]>`
    select s.user_id, s.revoked_at is not null as revoked, s.expires_at, s.last_used_at,
           u.disabled, u.role, u.tier, u.email
    from sessions s join users u on u.id = s.user_id
    where s.id = ${sessionId}`;
  return row ?? null;
}

export async function listActiveSessions(
  sql: Db,
  userId: string,
  idleSeconds: number,
  page: Page,
): Promise<Paged<SessionRow>> {
  return await selectPage<SessionRow>(sql, {
    columns: sql`id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip`,
    rows: sql`sessions
      where user_id = ${userId} and revoked_at is null and expires_at > now()
        and last_used_at > now() - make_interval(secs => ${idleSeconds})`,
    order: sql`last_used_at desc`,
  }, page);
}

/** Batched from the in-process touch buffer instead of a write per request. */
export async function touchSessions(sql: Db, touches: Map<string, Date>): Promise<void> {
  if (touches.size === 0) return;
  const ids = [...touches.keys()];
  const times = [...touches.values()].map((d) => d.toISOString());
  await sql`
    update sessions s set last_used_at = greatest(s.last_used_at, v.t)
    from (select unnest(${ids}::uuid[]) as id, unnest(${times}::timestamptz[]) as t) v
    where s.id = v.id`;
}

/** Whether the user has started a session from `ip` before: their own network. */
export async function hasLoggedInFrom(sql: Db, userId: string, ip: string): Promise<boolean> {
  const rows = await sql`select 1 from sessions where user_id = ${userId} and ip = ${ip} limit 1`;
  return rows.length > 0;
}

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
