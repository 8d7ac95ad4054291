import type postgres from "postgres";
import type { Db } from "./tx.ts";

/**
 * Messages of conversations: the history a prompt is built from (`recentMessages`,
 * shared with the user-context builder), a conversation's listing, the `insert` a
 * turn's statement runs (`insertMessages`), the completion of a pending answer, and
 * the crash sweep. Conversations themselves are `conversations.ts`'.
 */

export type MessageRole = "user" | "assistant" | "system";
/** `pending`: an answer being generated (written before the model call). */
export type MessageStatus = "pending" | "complete" | "incomplete" | "error";

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

export interface HistoryMessageRow {
  id: string;
  role: MessageRole;
  content: string;
  model: string | null;
  status: MessageStatus;
  created_at: Date;
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

/**
 * The `insert` of `messages`, in this order (`seq` keeps it: they share `created_at`), into
 * the conversation whose `id` the `with` query named `conversation` yields; nothing when it
 * yields no row. A part of one statement (`with ... as (<this>)`), so a turn costs one round trip.
 */
export function insertMessages(
  sql: Db,
  conversation: string,
  messages: NewMessage[],
): postgres.Fragment {
  const rows = messages.map((m) => ({
    id: m.id,
    role: m.role,
    content: m.content,
    model: m.model,
    status: m.status,
    metadata: m.metadata,
  }));
  return sql`
      insert into messages (id, conversation_id, role, content, model, status, metadata)
      select m.id, ${sql(conversation)}.id, m.role, m.content, m.model, m.status, m.metadata
      from ${sql(conversation)}, rows from (
        jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
          as (id uuid, role text, content text, model text, status text, metadata jsonb)
      ) with ordinality as m(id, role, content, model, status, metadata, position)
      order by m.position
      returning 1`;
}

/**
 * Completes a turn written with a `pending` answer: the pending message becomes
 * `first`, `rest` are added after it (quality mode's other answers), and the
 * conversation is touched. One statement; nothing happens when the conversation
 * was deleted meanwhile.
 */
export async function completeTurn(
  sql: Db,
  turn: { conversationId: string; pendingId: string; first: NewMessage; rest: NewMessage[] },
): Promise<void> {
  const { first } = turn;
  await sql`
    with completed as (
      update messages set content = ${first.content}, model = ${first.model},
                          status = ${first.status}, metadata = ${sql.json(first.metadata as never)}
      where id = ${turn.pendingId} and conversation_id = ${turn.conversationId}
      returning conversation_id as id
    ), others as (${insertMessages(sql, "completed", turn.rest)})
    update conversations set updated_at = now()
    where id in (select id from completed)`;
}

/** Answers left `pending` by a crash before `cutoff` become `incomplete`. */
export async function closeStalePendingMessages(sql: Db, cutoff: Date): Promise<number> {
  const rows = await sql`
    update messages set status = 'incomplete',
      metadata = coalesce(metadata, '{}'::jsonb) || '{"finish_reason": null, "interrupted": true}'::jsonb
    where status = 'pending' and created_at < ${cutoff}
    returning 1`;
  return rows.length;
}
