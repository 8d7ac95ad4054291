import { insertMessages, type NewMessage } from "./messages.ts";
import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

/**
 * Conversations: a turn's write (the conversation created or touched, with its
 * messages, in one statement), lookups in a caller's scope, listings, deletion.
 * Their messages are `messages.ts`'.
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
  page: Page,
): Promise<Paged<ConversationSummaryRow>> {
  return await selectPage<ConversationSummaryRow>(sql, {
    columns: sql`${conversationColumns(sql)},
      (select count(*)::int from messages m where m.conversation_id = c.id) as message_count,
      (select left(m.content, ${PREVIEW_CHARS}) from messages m
        where m.conversation_id = c.id order by m.seq desc limit 1) as last_message_preview`,
    rows: sql`conversations c where ${inScope(sql, scope)}`,
    order: sql`c.updated_at desc, c.id`,
  }, page);
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

export interface TurnRecord {
  conversation: {
    id: string;
    userId: string;
    chatbotId: string | null;
    /** Only used when the conversation is created by this turn. */
    title: string;
    isNew: boolean;
  };
  /** In display order. */
  messages: NewMessage[];
}

/**
 * Stores a whole turn in one statement: the conversation (created, or touched
 * when it exists and is the user's) and its messages. One statement is atomic
 * on its own and costs one round trip instead of four (BEGIN, two writes,
 * COMMIT), which dominated the cost of a stored query. Returns false when an
 * existing conversation was gone (deleted while the answer was generated):
 * then nothing is stored.
 */
export async function storeTurn(sql: Db, turn: TurnRecord): Promise<boolean> {
  const { conversation: c } = turn;
  const [row] = await sql<{ linked: boolean }[]>`
    with created as (
      insert into conversations (id, user_id, chatbot_id, title)
      select ${c.id}::uuid, ${c.userId}::uuid, ${c.chatbotId}::uuid, ${c.title}
      where ${c.isNew}::boolean
      returning id
    ), touched as (
      update conversations set updated_at = now()
      where not ${c.isNew}::boolean and id = ${c.id}::uuid and user_id = ${c.userId}::uuid
      returning id
    ), target as (
      select id from created union all select id from touched
    ), stored_messages as (${insertMessages(sql, "target", turn.messages)})
    select exists (select 1 from target) as linked`;
  return row?.linked ?? false;
}
