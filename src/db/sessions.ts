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
