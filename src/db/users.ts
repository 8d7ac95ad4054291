import type { Role } from "../principal.ts";
import type { Db } from "./tx.ts";

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
