import type { Role, Scope } from "../principal.ts";
import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

export interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  start: string;
  scopes: Scope[];
  chatbot_id: string | null;
  tier: string | null;
  rate_limit_per_minute: number | null;
  rate_limit_per_day: number | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
  previous_expires_at: Date | null;
  /** Owner-set USD budgets of this key (null: none). */
  budget_usd_per_day: number | null;
  budget_usd_per_month: number | null;
}

/** A key found by its hash, with what authentication needs about its owner. */
export interface ApiKeyCredential extends ApiKeyRow {
  owner_role: Role;
  owner_tier: string;
  owner_disabled: boolean;
  owner_email: string;
  /** True when the presented secret is the rolled-away previous one. */
  via_previous: boolean;
}

const keyColumns = (sql: Db) =>
  sql`k.id, k.user_id, k.name, k.start, k.scopes, k.chatbot_id, k.tier,
      k.rate_limit_per_minute, k.rate_limit_per_day, k.expires_at, k.revoked_at,
      k.last_used_at, k.created_at, k.previous_expires_at,
      k.budget_usd_per_day::float8 as budget_usd_per_day,
      k.budget_usd_per_month::float8 as budget_usd_per_month`;

export async function insertApiKey(
  sql: Db,
  input: {
    userId: string;
    name: string;
    keyHash: string;
    start: string;
    scopes: Scope[];
    chatbotId: string | null;
    tier: string | null;
    perMinute: number | null;
    perDay: number | null;
    expiresAt: Date | null;
    budgetUsdPerDay?: number | null;
    budgetUsdPerMonth?: number | null;
  },
): Promise<ApiKeyRow> {
  const [row] = await sql<ApiKeyRow[]>`
    insert into api_keys as k (user_id, name, key_hash, start, scopes, chatbot_id, tier,
                          rate_limit_per_minute, rate_limit_per_day, expires_at,
                          budget_usd_per_day, budget_usd_per_month)
    values (${input.userId}, ${input.name}, ${input.keyHash}, ${input.start}, ${input.scopes},
            ${input.chatbotId}, ${input.tier}, ${input.perMinute}, ${input.perDay}, ${input.expiresAt},
            ${input.budgetUsdPerDay ?? null}, ${input.budgetUsdPerMonth ?? null})
    returning ${keyColumns(sql)}`;
  return row!;
}

export async function findApiKeyByHash(sql: Db, keyHash: string): Promise<ApiKeyCredential | null> {
  const [row] = await sql<ApiKeyCredential[]>`
    select ${keyColumns(sql)}, u.role as owner_role, u.tier as owner_tier,
           u.disabled as owner_disabled, u.email as owner_email, (k.key_hash <> ${keyHash}) as via_previous
    from api_keys k join users u on u.id = k.user_id
    where k.key_hash = ${keyHash}
       or (k.previous_key_hash = ${keyHash} and k.previous_expires_at > now())`;
  return row ?? null;
}

export async function listApiKeys(
  sql: Db,
  userId: string,
  page: Page,
): Promise<Paged<ApiKeyRow>> {
  return await selectPage<ApiKeyRow>(sql, {
    columns: keyColumns(sql),
    rows: sql`api_keys k where k.user_id = ${userId}`,
    order: sql`k.created_at desc, k.id`,
  }, page);
}

/** Keys of the user that still work: neither revoked nor expired. */
export async function countLiveApiKeys(sql: Db, userId: string): Promise<number> {
  const [row] = await sql<{ live: number }[]>`
    select count(*)::int as live from api_keys
    where user_id = ${userId} and revoked_at is null
      and (expires_at is null or expires_at > now())`;
  return row?.live ?? 0;
}

/** Owner-scoped read: another user's key is indistinguishable from a missing one. */
export async function findApiKey(
  sql: Db,
  keyId: string,
  ownerId: string | null,
): Promise<ApiKeyRow | null> {
  const [row] = await sql<ApiKeyRow[]>`
    select ${keyColumns(sql)} from api_keys k
    where k.id = ${keyId} and (${ownerId}::uuid is null or k.user_id = ${ownerId}::uuid)`;
  return row ?? null;
}

export async function revokeApiKey(sql: Db, keyId: string): Promise<boolean> {
  const rows = await sql`
    update api_keys set revoked_at = now(), previous_key_hash = null, previous_expires_at = null
    where id = ${keyId} and revoked_at is null returning id`;
  return rows.length > 0;
}

/** Swaps in a new secret; the old one stays valid until `previousExpiresAt` (or not at all). */
export async function rollApiKey(
  sql: Db,
  input: { keyId: string; keyHash: string; start: string; previousExpiresAt: Date | null },
): Promise<ApiKeyRow | null> {
  const [row] = await sql<ApiKeyRow[]>`
    update api_keys as k set
      previous_key_hash = case when ${input.previousExpiresAt}::timestamptz is null then null else k.key_hash end,
      previous_expires_at = ${input.previousExpiresAt},
      key_hash = ${input.keyHash},
      start = ${input.start}
    where k.id = ${input.keyId} and k.revoked_at is null
    returning ${keyColumns(sql)}`;
  return row ?? null;
}

/** Batched from the in-process touch buffer instead of a write per request. */
export async function touchApiKeys(sql: Db, touches: Map<string, Date>): Promise<void> {
  if (touches.size === 0) return;
  const ids = [...touches.keys()];
  const times = [...touches.values()].map((d) => d.toISOString());
  await sql`
    update api_keys k set last_used_at = greatest(coalesce(k.last_used_at, v.t), v.t)
    from (select unnest(${ids}::uuid[]) as id, unnest(${times}::timestamptz[]) as t) v
    where k.id = v.id`;
}

/** The key columns `updateApiKey` may change; anything else never reaches SQL. */
export const PATCHABLE_KEY_COLUMNS = [
  "name",
  "budget_usd_per_day",
  "budget_usd_per_month",
  "tier",
  "rate_limit_per_minute",
  "rate_limit_per_day",
] as const;

export type ApiKeyPatch = Partial<
  Pick<ApiKeyRow, (typeof PATCHABLE_KEY_COLUMNS)[number]>
>;

/** Applies the set fields of `patch` (null clears) to a live key; null when gone or revoked. */
export async function updateApiKey(
  sql: Db,
  keyId: string,
  patch: ApiKeyPatch,
): Promise<ApiKeyRow | null> {
  const columns = PATCHABLE_KEY_COLUMNS.filter((column) => patch[column] !== undefined);
  if (columns.length === 0) {
    const [row] = await sql<ApiKeyRow[]>`
      select ${keyColumns(sql)} from api_keys k where k.id = ${keyId} and k.revoked_at is null`;
    return row ?? null;
  }
  // postgres.js' update helper needs a bare `update <table> set`: no alias, so the
  // row is read back in the same statement through a CTE.
  const [row] = await sql<ApiKeyRow[]>`
    with changed as (
      update api_keys set ${sql(patch, columns)}
      where id = ${keyId} and revoked_at is null
      returning *
    )
    select ${keyColumns(sql)} from changed k`;
  return row ?? null;
}

/** Live keys whose expiry falls between now and `until` (the expiry-warning sweep). */
export async function apiKeysExpiringBefore(
  sql: Db,
  until: Date,
): Promise<{ id: string; user_id: string; expires_at: Date }[]> {
  const rows = await sql<{ id: string; user_id: string; expires_at: Date }[]>`
    select id, user_id, expires_at from api_keys
    where revoked_at is null and expires_at > now() and expires_at <= ${until}
    order by expires_at`;
  return [...rows];
}
