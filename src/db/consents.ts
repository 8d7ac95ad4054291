import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db, Tx } from "./tx.ts";

export type ConsentRequestStatus = "pending" | "approved" | "denied";

export interface ConsentRequestRow {
  id: string;
  user_id: string;
  chatbot_id: string;
  fields: string[];
  purpose: string;
  status: ConsentRequestStatus;
  created_at: Date;
  responded_at: Date | null;
}

export interface ConsentRow {
  id: string;
  user_id: string;
  chatbot_id: string;
  consent_request_id: string | null;
  fields: string[];
  granted_at: Date;
  revoked_at: Date | null;
}

const requestColumns = (sql: Db) =>
  sql`id, user_id, chatbot_id, fields, purpose, status, created_at, responded_at`;
const consentColumns = (sql: Db) =>
  sql`id, user_id, chatbot_id, consent_request_id, fields, granted_at, revoked_at`;

/**
 * The user's open request for this chatbot, created or brought up to date with
 * the fields still missing: repeated contexts never pile up requests.
 */
export async function upsertPendingConsentRequest(
  sql: Db,
  input: { userId: string; chatbotId: string; fields: string[]; purpose: string },
): Promise<ConsentRequestRow> {
  const [row] = await sql<ConsentRequestRow[]>`
    insert into consent_requests (user_id, chatbot_id, fields, purpose)
    values (${input.userId}, ${input.chatbotId}, ${input.fields}, ${input.purpose})
    on conflict (user_id, chatbot_id) where status = 'pending' do update set
      fields = excluded.fields, purpose = excluded.purpose
    returning ${requestColumns(sql)}`;
  return row!;
}

/**
 * Locks one of the user's requests for answering. `chatbotId` narrows it for a
 * chatbot-bound key; anything else looks missing.
 */
export async function lockConsentRequest(
  tx: Tx,
  id: string,
  owner: { userId: string; chatbotId: string | null },
): Promise<ConsentRequestRow | null> {
  const [row] = await tx<ConsentRequestRow[]>`
    select ${requestColumns(tx)} from consent_requests
    where id = ${id} and user_id = ${owner.userId}
      and (${owner.chatbotId}::uuid is null or chatbot_id = ${owner.chatbotId}::uuid)
    for update`;
  return row ?? null;
}

export async function answerConsentRequest(
  sql: Db,
  id: string,
  status: Exclude<ConsentRequestStatus, "pending">,
): Promise<void> {
  await sql`
    update consent_requests set status = ${status}, responded_at = now() where id = ${id}`;
}

export async function insertConsent(
  sql: Db,
  input: {
    userId: string;
    chatbotId: string;
    consentRequestId: string;
    fields: string[];
    tokenHash: string;
  },
): Promise<ConsentRow> {
  const [row] = await sql<ConsentRow[]>`
    insert into consents (user_id, chatbot_id, consent_request_id, fields, token_hash)
    values (${input.userId}, ${input.chatbotId}, ${input.consentRequestId}, ${input.fields},
            ${input.tokenHash})
    returning ${consentColumns(sql)}`;
  return row!;
}

/** Every field the user currently grants this chatbot (over all unrevoked consents). */
export async function grantedFields(sql: Db, userId: string, chatbotId: string): Promise<string[]> {
  const rows = await sql<{ field: string }[]>`
    select distinct unnest(fields) as field from consents
    where user_id = ${userId} and chatbot_id = ${chatbotId} and revoked_at is null`;
  return rows.map((r) => r.field);
}

/** Unrevoked consents, newest first; `chatbotId` narrows to one chatbot. */
export async function listActiveConsents(
  sql: Db,
  filter: { userId: string; chatbotId: string | null } & Page,
): Promise<Paged<ConsentRow>> {
  return await selectPage<ConsentRow>(sql, {
    columns: consentColumns(sql),
    rows: sql`consents
      where user_id = ${filter.userId} and revoked_at is null
        and (${filter.chatbotId}::uuid is null or chatbot_id = ${filter.chatbotId}::uuid)`,
    order: sql`granted_at desc, id`,
  }, filter);
}

/** Revokes one of the user's active consents; null when there is none to revoke. */
export async function revokeConsent(
  sql: Db,
  id: string,
  owner: { userId: string; chatbotId: string | null },
): Promise<ConsentRow | null> {
  const [row] = await sql<ConsentRow[]>`
    update consents set revoked_at = now()
    where id = ${id} and user_id = ${owner.userId} and revoked_at is null
      and (${owner.chatbotId}::uuid is null or chatbot_id = ${owner.chatbotId}::uuid)
    returning ${consentColumns(sql)}`;
  return row ?? null;
}
