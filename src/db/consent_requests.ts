/** consent_requests: what a chatbot asked a user to share, and the user's answer. */
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

const requestColumns = (sql: Db) =>
  sql`id, user_id, chatbot_id, fields, purpose, status, created_at, responded_at`;

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
