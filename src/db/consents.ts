import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

export interface ConsentRow {
  id: string;
  user_id: string;
  chatbot_id: string;
  consent_request_id: string | null;
  fields: string[];
  granted_at: Date;
  revoked_at: Date | null;
}

const consentColumns = (sql: Db) =>
  sql`id, user_id, chatbot_id, consent_request_id, fields, granted_at, revoked_at`;

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
