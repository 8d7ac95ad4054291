import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

/** The fields an owner sets; the id, owner and timestamps are never taken from a request. */
export interface ChatbotFields {
  name: string;
  description: string | null;
  system_prompt: string | null;
  models: string[];
  temperature: number | null;
  context_fields: string[];
  require_consent: boolean;
}

export interface ChatbotRow extends ChatbotFields {
  id: string;
  /** The owner. */
  user_id: string;
  created_at: Date;
  updated_at: Date;
}

const EDITABLE_COLUMNS = [
  "name",
  "description",
  "system_prompt",
  "models",
  "temperature",
  "context_fields",
  "require_consent",
] as const satisfies readonly (keyof ChatbotFields)[];

/**
 * Who may see which chatbots: `ownerId` null means every owner (admins);
 * `chatbotId` set narrows to one chatbot (a chatbot-bound API key).
 */
export interface ChatbotScope {
  ownerId: string | null;
  chatbotId: string | null;
}

const chatbotColumns = (sql: Db) =>
  sql`id, user_id, name, description, system_prompt, models, temperature, context_fields,
      require_consent, created_at, updated_at`;

const inScope = (sql: Db, scope: ChatbotScope) =>
  sql`(${scope.ownerId}::uuid is null or user_id = ${scope.ownerId}::uuid)
      and (${scope.chatbotId}::uuid is null or id = ${scope.chatbotId}::uuid)`;

export async function insertChatbot(
  sql: Db,
  userId: string,
  fields: ChatbotFields,
): Promise<ChatbotRow> {
  const [row] = await sql<ChatbotRow[]>`
    insert into chatbots (user_id, name, description, system_prompt, models, temperature,
                          context_fields, require_consent)
    values (${userId}, ${fields.name}, ${fields.description}, ${fields.system_prompt},
            ${fields.models}, ${fields.temperature}, ${fields.context_fields},
            ${fields.require_consent})
    returning ${chatbotColumns(sql)}`;
  return row!;
}

/** One chatbot if it is in scope; out-of-scope chatbots look missing. */
export async function findChatbot(
  sql: Db,
  id: string,
  scope: ChatbotScope,
): Promise<ChatbotRow | null> {
  const [row] = await sql<ChatbotRow[]>`
    select ${chatbotColumns(sql)} from chatbots where id = ${id} and ${inScope(sql, scope)}`;
  return row ?? null;
}

export async function listChatbots(
  sql: Db,
  scope: ChatbotScope,
  page: Page,
): Promise<Paged<ChatbotRow>> {
  return await selectPage<ChatbotRow>(sql, {
    columns: chatbotColumns(sql),
    rows: sql`chatbots where ${inScope(sql, scope)}`,
    order: sql`created_at desc, id`,
  }, page);
}

/** Sets the given fields of an in-scope chatbot; null when it is missing or out of scope. */
export async function updateChatbot(
  sql: Db,
  id: string,
  scope: ChatbotScope,
  patch: Partial<ChatbotFields>,
): Promise<ChatbotRow | null> {
  const columns = EDITABLE_COLUMNS.filter((column) => patch[column] !== undefined);
  if (columns.length === 0) return await findChatbot(sql, id, scope);
  const [row] = await sql<ChatbotRow[]>`
    update chatbots set ${sql(patch, columns)}, updated_at = now()
    where id = ${id} and ${inScope(sql, scope)}
    returning ${chatbotColumns(sql)}`;
  return row ?? null;
}

/** Deletes an in-scope chatbot; its bound keys, consents and requests cascade. */
export async function deleteChatbot(sql: Db, id: string, scope: ChatbotScope): Promise<boolean> {
  const rows = await sql`delete from chatbots where id = ${id} and ${
    inScope(sql, scope)
  } returning id`;
  return rows.length > 0;
}

/** Whether `chatbotId` exists and belongs to `userId` (others' look missing). */
export async function chatbotOwnedBy(sql: Db, chatbotId: string, userId: string): Promise<boolean> {
  const rows = await sql`select 1 from chatbots where id = ${chatbotId} and user_id = ${userId}`;
  return rows.length > 0;
}
