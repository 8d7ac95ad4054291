import type { Db } from "./tx.ts";

/**
 * Conversations and their messages: listings, deletion, and the history a
 * prompt is built from (`recentMessages`, shared with the user-context
 * builder). A turn's messages are written by `turns.ts`.
 */

/** Whose conversations a caller reaches: a chatbot-bound key only its chatbot's. */
export interface ConversationScope {
  userId: string;
  chatbotId: string | null;
}

export interface ConversationRow {
  id: string;
  user_id: string;
  chatbot_id: string | null;
  title: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ConversationSummaryRow extends ConversationRow {
  message_count: number;
  last_message_preview: string | null;
}

/** What is kept beside an assistant message: how the answer came about. */
export interface MessageMetadata {
  turn_id?: string;
  finish_reason?: string | null;
  latency_ms?: number;
  usage?: { input_tokens: number; output_tokens: number };
  cost_usd?: number;
  error?: { code: string; message: string };
  selected?: boolean;
}

export interface MessageRow {
  id: string;
  role: MessageRole;
  content: string;
  model: string | null;
  status: MessageStatus;
  metadata: MessageMetadata | null;
  created_at: Date;
}

/** A message as written; the database stamps `created_at`. */
export type NewMessage = Omit<MessageRow, "created_at">;

const PREVIEW_CHARS = 120;

const conversationColumns = (sql: Db) =>
  sql`c.id, c.user_id, c.chatbot_id, c.title, c.created_at, c.updated_at`;

const inScope = (sql: Db, scope: ConversationScope) =>
  sql`c.user_id = ${scope.userId}
      and (${scope.chatbotId}::uuid is null or c.chatbot_id = ${scope.chatbotId}::uuid)`;

/** One conversation in scope; others' look missing. */
export async function findConversation(
  sql: Db,
  id: string,
  scope: ConversationScope,
): Promise<ConversationRow | null> {
  const [row] = await sql<ConversationRow[]>`
    select ${conversationColumns(sql)} from conversations c
    where c.id = ${id} and ${inScope(sql, scope)}`;
  return row ?? null;
}

/** The caller's conversations, most recently active first. */
export async function listConversations(
  sql: Db,
  scope: ConversationScope,
  page: { limit: number; offset: number },
): Promise<{ items: ConversationSummaryRow[]; total: number }> {
  const items = await sql<ConversationSummaryRow[]>`
    select ${conversationColumns(sql)},
      (select count(*)::int from messages m where m.conversation_id = c.id) as message_count,
      (select left(m.content, ${PREVIEW_CHARS}) from messages m
        where m.conversation_id = c.id order by m.seq desc limit 1) as last_message_preview
    from conversations c where ${inScope(sql, scope)}
    order by c.updated_at desc, c.id limit ${page.limit} offset ${page.offset}`;
  const [count] = await sql<{ total: number }[]>`
    select count(*)::int as total from conversations c where ${inScope(sql, scope)}`;
  return { items: [...items], total: count?.total ?? 0 };
}

/** The latest `limit` messages, oldest first, and how many there are in all. */
export async function conversationMessages(
  sql: Db,
  conversationId: string,
  limit: number,
): Promise<{ items: MessageRow[]; total: number }> {
  const items = await sql<MessageRow[]>`
    select id, role, content, model, status, metadata, created_at from (
      select id, role, content, model, status, metadata, created_at, seq from messages
      where conversation_id = ${conversationId} order by seq desc limit ${limit}
    ) latest order by seq`;
  const [count] = await sql<{ total: number }[]>`
    select count(*)::int as total from messages where conversation_id = ${conversationId}`;
  return { items: [...items], total: count?.total ?? 0 };
}

/** Deletes a conversation in scope; its messages cascade. */
export async function deleteConversation(
  sql: Db,
  id: string,
  scope: ConversationScope,
): Promise<boolean> {
  const rows = await sql`
    delete from conversations c where c.id = ${id} and ${inScope(sql, scope)} returning c.id`;
  return rows.length > 0;
}

export type MessageRole = "user" | "assistant" | "system";
/** `pending`: an answer being generated (written before the model call). */
export type MessageStatus = "pending" | "complete" | "incomplete" | "error";

export interface HistoryMessageRow {
  id: string;
  role: MessageRole;
  content: string;
  model: string | null;
  status: MessageStatus;
  created_at: Date;
}

/**
 * Whether the conversation exists and is the user's (others' look missing);
 * with `chatbotId`, also that it belongs to that chatbot.
 */
export async function conversationOwnedBy(
  sql: Db,
  conversationId: string,
  userId: string,
  chatbotId: string | null = null,
): Promise<boolean> {
  const rows = await sql`
    select 1 from conversations where id = ${conversationId} and user_id = ${userId}
      and (${chatbotId}::uuid is null or chatbot_id = ${chatbotId}::uuid)`;
  return rows.length > 0;
}

/**
 * The last `limit` messages of a conversation, oldest first. Failed answers and
 * answers still being generated are left out: not history a model should build on.
 */
export async function recentMessages(
  sql: Db,
  conversationId: string,
  limit: number,
): Promise<HistoryMessageRow[]> {
  const rows = await sql<HistoryMessageRow[]>`
    select id, role, content, model, status, created_at from (
      select id, role, content, model, status, created_at, seq from messages
      where conversation_id = ${conversationId} and status not in ('error', 'pending')
      order by seq desc limit ${limit}
    ) latest
    order by seq`;
  return [...rows];
}
