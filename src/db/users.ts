import type { Role } from "../principal.ts";
import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db, Tx } from "./tx.ts";
import { anonymiseUsage } from "./usage.ts";
import { deleteUserWsTickets } from "./ws_tickets.ts";

export interface UserRow {
  id: string;
  email: string;
  display_name: string | null;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  job_title: string | null;
  role: Role;
  tier: string;
  disabled: boolean;
  /** Admin-set USD budgets (null: none). */
  budget_usd_per_day: number | null;
  budget_usd_per_month: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface UserWithPassword extends UserRow {
  password_hash: string;
}

/** Emails compare case-insensitively; the original spelling is kept for display. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFC").toLowerCase();
}

const userColumns = (sql: Db) =>
  sql`id, email, display_name, first_name, last_name, company, job_title, role, tier, disabled,
      budget_usd_per_day::float8 as budget_usd_per_day,
      budget_usd_per_month::float8 as budget_usd_per_month, created_at, updated_at`;

export async function insertUser(
  sql: Db,
  input: { email: string; passwordHash: string; displayName?: string | null; role?: Role },
): Promise<UserRow> {
  const [row] = await sql<UserRow[]>`
    insert into users (email, email_normalized, password_hash, display_name, role)
    values (${input.email.trim()}, ${normalizeEmail(input.email)}, ${input.passwordHash},
            ${input.displayName ?? null}, ${input.role ?? "user"})
    returning ${userColumns(sql)}`;
  return row!;
}

export async function findUserByEmail(sql: Db, email: string): Promise<UserWithPassword | null> {
  const [row] = await sql<UserWithPassword[]>`
    select ${userColumns(sql)}, password_hash from users
    where email_normalized = ${normalizeEmail(email)}`;
  return row ?? null;
}

export async function findUserById(sql: Db, id: string): Promise<UserRow | null> {
  const [row] = await sql<UserRow[]>`select ${userColumns(sql)} from users where id = ${id}`;
  return row ?? null;
}

export async function findUserWithPasswordById(
  sql: Db,
  id: string,
): Promise<UserWithPassword | null> {
  const [row] = await sql<UserWithPassword[]>`
    select ${userColumns(sql)}, password_hash from users where id = ${id}`;
  return row ?? null;
}

export async function updatePasswordHash(sql: Db, userId: string, hash: string): Promise<void> {
  await sql`update users set password_hash = ${hash}, updated_at = now() where id = ${userId}`;
}

/** The public user columns (never the password hash), for the other user modules' queries. */
export function publicUserColumns(sql: Db) {
  return userColumns(sql);
}

export async function countUsers(sql: Db): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from users`;
  return row?.count ?? 0;
}

/** What spend limits need about a user (and the key in use): read fresh per turn. */
export interface SpendSettingsRow {
  tier: string;
  /** numeric as text: exact to the micro-dollar. */
  user_usd_per_day: string | null;
  user_usd_per_month: string | null;
  key_usd_per_day: string | null;
  key_usd_per_month: string | null;
}

export async function spendSettingsOf(
  sql: Db,
  userId: string,
  apiKeyId: string | null,
): Promise<SpendSettingsRow | null> {
  const [row] = await sql<SpendSettingsRow[]>`
    select u.tier, u.budget_usd_per_day::text as user_usd_per_day,
           u.budget_usd_per_month::text as user_usd_per_month,
           k.budget_usd_per_day::text as key_usd_per_day,
           k.budget_usd_per_month::text as key_usd_per_month
    from users u left join api_keys k on k.id = ${apiKeyId}::uuid and k.user_id = u.id
    where u.id = ${userId}`;
  return row ?? null;
}

/**
 * Creates the user as `admin`, or promotes the existing one, in one statement
 * (safe when several instances start together: the unique email decides, and
 * the loser's insert becomes the update). The password is written only by the
 * insert. Returns what happened; `unchanged` when the user already was an admin.
 */
export async function upsertAdmin(
  sql: Db,
  input: { email: string; passwordHash: string },
): Promise<{ user: UserRow; outcome: "created" | "promoted" } | { outcome: "unchanged" }> {
  const [row] = await sql<(UserRow & { inserted: boolean })[]>`
    insert into users (email, email_normalized, password_hash, role)
    values (${input.email.trim()}, ${normalizeEmail(input.email)}, ${input.passwordHash}, 'admin')
    on conflict (email_normalized) do update set role = 'admin', updated_at = now()
      where users.role <> 'admin'
    returning ${userColumns(sql)}, (xmax = 0) as inserted`;
  if (!row) return { outcome: "unchanged" };
  const { inserted, ...user } = row;
  return { user, outcome: inserted ? "created" : "promoted" };
}

/** Sets an existing user's role to admin; null when no such user. */
export async function promoteToAdmin(
  sql: Db,
  email: string,
): Promise<{ user: UserRow; changed: boolean } | null> {
  const [before] = await sql<{ id: string; role: Role }[]>`
    select id, role from users where email_normalized = ${normalizeEmail(email)} for update`;
  if (!before) return null;
  const [row] = await sql<UserRow[]>`
    update users set role = 'admin', updated_at = case when role = 'admin' then updated_at else now() end
    where id = ${before.id} returning ${userColumns(sql)}`;
  return { user: row!, changed: before.role !== "admin" };
}

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
  filter: { q?: string } & Page,
): Promise<Paged<UserRow>> {
  const pattern = filter.q ? likePattern(filter.q) : null;
  return await selectPage<UserRow>(sql, {
    columns: publicUserColumns(sql),
    rows: sql`users
      where ${pattern}::text is null
         or email ilike ${pattern} or display_name ilike ${pattern}
         or concat_ws(' ', first_name, last_name) ilike ${pattern}
         or company ilike ${pattern}`,
    order: sql`created_at desc, id`,
  }, filter);
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
 * What a user owns besides their own row, deleted children first: a table with its `user_id`,
 * or a table reached through its parent (`through`: the parent and the column naming it).
 * The foreign keys cascade too; the explicit list keeps it reviewable and is where new
 * per-user tables add their line. Other users' grants and requests for the user's chatbots
 * cascade; their conversations unlink.
 */
const OWNED_BY_USER: { table: string; through?: { parent: string; column: string } }[] = [
  { table: "consents" },
  { table: "consent_requests" },
  { table: "messages", through: { parent: "conversations", column: "conversation_id" } },
  { table: "conversations" },
  { table: "api_keys" },
  { table: "chatbots" },
  { table: "refresh_tokens", through: { parent: "sessions", column: "session_id" } },
  { table: "sessions" },
  { table: "user_details" },
];

/**
 * Erases a user and everything they own, in the caller's transaction: the audit trail and
 * the usage rows stay but no longer name them. Returns false when there was no such user.
 */
export async function eraseUser(tx: Tx, userId: string): Promise<boolean> {
  const [user] = await tx<{ email: string }[]>`
    select email from users where id = ${userId} for update`;
  if (!user) return false;
  await anonymiseAuditEvents(tx, userId, user.email);
  await anonymiseUsage(tx, userId);
  await deleteUserWsTickets(tx, userId);
  for (const { table, through } of OWNED_BY_USER) {
    const owned = through
      ? tx`${tx(through.column)} in (select id from ${
        tx(through.parent)
      } where user_id = ${userId})`
      : tx`user_id = ${userId}`;
    await tx`delete from ${tx(table)} where ${owned}`;
  }
  await tx`delete from users where id = ${userId}`;
  return true;
}
