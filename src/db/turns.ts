import type { NewMessage } from "./conversations.ts";
import type { Db } from "./tx.ts";
import type { NewUsageRecord } from "./usage.ts";

export interface TurnRecord {
  conversation: {
    id: string;
    userId: string;
    chatbotId: string | null;
    /** Only used when the conversation is created by this turn. */
    title: string;
    isNew: boolean;
  };
  /** In display order; `seq` keeps it (they share `created_at`). */
  messages: NewMessage[];
  /** One per model call; linked to the conversation when it still exists. */
  usage?: NewUsageRecord[];
}

/**
 * Stores a whole turn in one statement: the conversation (created, or touched
 * when it exists and is the user's), its messages and the usage rows. One
 * statement is atomic on its own and costs one round trip instead of five
 * (BEGIN, three writes, COMMIT), which dominated the cost of a stored query.
 * Returns false when an existing conversation was gone (deleted while the
 * answer was generated): then only the usage is stored, unlinked.
 */
export async function storeTurn(sql: Db, turn: TurnRecord): Promise<boolean> {
  const { conversation: c } = turn;
  const messages = turn.messages.map((m) => ({
    id: m.id,
    role: m.role,
    content: m.content,
    model: m.model,
    status: m.status,
    metadata: m.metadata,
  }));
  const usage = (turn.usage ?? []).map((u) => ({
    user_id: u.userId,
    api_key_id: u.apiKeyId,
    model: u.model,
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cost_usd: u.costUsd,
    latency_ms: u.latencyMs,
    status: u.status,
  }));
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
    ), stored_messages as (
      insert into messages (id, conversation_id, role, content, model, status, metadata)
      select m.id, target.id, m.role, m.content, m.model, m.status, m.metadata
      from target, rows from (
        jsonb_to_recordset(${sql.json(messages as never)}::jsonb)
          as (id uuid, role text, content text, model text, status text, metadata jsonb)
      ) with ordinality as m(id, role, content, model, status, metadata, position)
      order by m.position
      returning 1
    ), stored_usage as (
      insert into usage_records (user_id, api_key_id, model, conversation_id, input_tokens,
                                 output_tokens, cost_usd, latency_ms, status)
      select u.user_id, u.api_key_id, u.model, (select id from target), u.input_tokens,
             u.output_tokens, u.cost_usd, u.latency_ms, u.status
      from jsonb_to_recordset(${sql.json(usage as never)}::jsonb)
        as u(user_id uuid, api_key_id uuid, model text, input_tokens integer,
             output_tokens integer, cost_usd numeric, latency_ms integer, status text)
      returning 1
    )
    select exists (select 1 from target) as linked`;
  return row?.linked ?? false;
}

/**
 * Completes a turn written with a `pending` answer: the pending message becomes
 * `first`, `rest` are added after it (quality mode's other answers). One
 * statement; nothing happens when the conversation was deleted meanwhile.
 */
export async function completeTurn(
  sql: Db,
  turn: { conversationId: string; pendingId: string; first: NewMessage; rest: NewMessage[] },
): Promise<void> {
  const { first } = turn;
  const rest = turn.rest.map((m) => ({
    id: m.id,
    role: m.role,
    content: m.content,
    model: m.model,
    status: m.status,
    metadata: m.metadata,
  }));
  await sql`
    with completed as (
      update messages set content = ${first.content}, model = ${first.model},
                          status = ${first.status}, metadata = ${sql.json(first.metadata as never)}
      where id = ${turn.pendingId} and conversation_id = ${turn.conversationId}
      returning conversation_id
    ), others as (
      insert into messages (id, conversation_id, role, content, model, status, metadata)
      select m.id, completed.conversation_id, m.role, m.content, m.model, m.status, m.metadata
      from completed, rows from (
        jsonb_to_recordset(${sql.json(rest as never)}::jsonb)
          as (id uuid, role text, content text, model text, status text, metadata jsonb)
      ) with ordinality as m(id, role, content, model, status, metadata, position)
      order by m.position
      returning 1
    )
    update conversations set updated_at = now()
    where id in (select conversation_id from completed)`;
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
