import type { Db } from "./tx.ts";

/** Read-only history for the context builder; writes belong to the chat module. */

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
