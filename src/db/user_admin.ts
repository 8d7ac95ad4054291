import type { Db, Tx } from "./tx.ts";
import { findUserById, publicUserColumns, type UserRow } from "./users.ts";
import { anonymiseUsage } from "./usage.ts";
import { deleteUserWsTickets } from "./ws_tickets.ts";

/** The user columns an update may change; anything else never reaches SQL. */
export const PATCHABLE_USER_COLUMNS = [
  "display_name",
  "first_name",
  "last_name",
  "company",
  "job_title",
  "role",
  "tier",
  "disabled",
  "budget_usd_per_day",
  "budget_usd_per_month",
] as const;

export type UserPatch = Partial<Pick<UserRow, (typeof PATCHABLE_USER_COLUMNS)[number]>>;

/** `%`, `_` and `\` in a search term match themselves, not as wildcards. */
function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** Users, newest first; `q` matches email or any name part, case-insensitively. */
export async function listUsers(
  sql: Db,
  filter: { q?: string; limit: number; offset: number },
): Promise<{ items: UserRow[]; total: number }> {
  const pattern = filter.q ? likePattern(filter.q) : null;
  const where = sql`
    where ${pattern}::text is null
       or email ilike ${pattern} or display_name ilike ${pattern}
       or concat_ws(' ', first_name, last_name) ilike ${pattern}
       or company ilike ${pattern}`;
  const items = await sql<UserRow[]>`
    select ${publicUserColumns(sql)} from users ${where}
    order by created_at desc, id limit ${filter.limit} offset ${filter.offset}`;
  const [count] = await sql<{ total: number }[]>`
    select count(*)::int as total from users ${where}`;
  return { items: [...items], total: count?.total ?? 0 };
}

/** Reads a user and locks the row, so a privilege change sees the value it replaces. */
export async function lockUser(tx: Tx, userId: string): Promise<UserRow | null> {
  const [row] = await tx<UserRow[]>`
    select ${publicUserColumns(tx)} from users where id = ${userId} for update`;
  return row ?? null;
}

/** Applies the set fields of `patch` (null clears a name field); returns the new row. */
export async function updateUser(
  sql: Db,
  userId: string,
  patch: UserPatch,
): Promise<UserRow | null> {
  const columns = PATCHABLE_USER_COLUMNS.filter((column) => patch[column] !== undefined);
  if (columns.length === 0) return await findUserById(sql, userId);
  const [row] = await sql<UserRow[]>`
    update users set ${sql(patch, columns)}, updated_at = now()
    where id = ${userId}
    returning ${publicUserColumns(sql)}`;
  return row ?? null;
}

/**
 * Audit detail keys whose values say what happened, not who it happened to.
 * Every other key (ids of sessions, keys, chatbots, ...) is dropped on erasure.
 */
const NON_IDENTIFYING_DETAIL_KEYS = ["scopes", "fields", "from", "to", "rehashed", "grace_seconds"];

/**
 * Keeps the audit trail but strips the user from it: their id as subject or
 * actor, the IP of the request, and detail values that could point back at them.
 */
async function anonymiseAuditEvents(tx: Tx, userId: string, email: string): Promise<void> {
  await tx`
    update audit_events set
      user_id = case when user_id = ${userId} then null else user_id end,
      actor_id = case when actor_id = ${userId} then null else actor_id end,
      ip = null,
      detail = (
        select coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
        from jsonb_each(detail) where key = any(${NON_IDENTIFYING_DETAIL_KEYS}::text[])
      ) || '{"erased": true}'::jsonb
    where user_id = ${userId} or actor_id = ${userId}
       or strpos(detail::text, ${userId}) > 0
       or strpos(lower(detail::text), ${email.toLowerCase()}) > 0`;
}

/**
 * Erases a user and everything they own, in the caller's transaction. The
 * foreign keys cascade too; the explicit deletes keep the list reviewable and
 * are where new per-user tables (usage rows, ...) add their line.
 * Returns false when there was no such user.
 */
export async function eraseUser(tx: Tx, userId: string): Promise<boolean> {
  const [user] = await tx<{ email: string }[]>`
    select email from users where id = ${userId} for update`;
  if (!user) return false;
  await anonymiseAuditEvents(tx, userId, user.email);
  await anonymiseUsage(tx, userId);
  await deleteUserWsTickets(tx, userId);
  await tx`delete from consents where user_id = ${userId}`;
  await tx`delete from consent_requests where user_id = ${userId}`;
  await tx`
    delete from messages
    where conversation_id in (select id from conversations where user_id = ${userId})`;
  await tx`delete from conversations where user_id = ${userId}`;
  await tx`delete from api_keys where user_id = ${userId}`;
  // Other users' grants and requests for these chatbots cascade; their conversations unlink.
  await tx`delete from chatbots where user_id = ${userId}`;
  await tx`
    delete from refresh_tokens
    where session_id in (select id from sessions where user_id = ${userId})`;
  await tx`delete from sessions where user_id = ${userId}`;
  await tx`delete from user_details where user_id = ${userId}`;
  await tx`delete from users where id = ${userId}`;
  return true;
}
