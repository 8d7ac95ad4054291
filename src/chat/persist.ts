import type { Principal } from "../principal.ts";
import type { Sql } from "../db/client.ts";
import type { NewMessage } from "../db/conversations.ts";
import { storeTurn } from "../db/turns.ts";
import { insertUsageRecords } from "../db/usage.ts";
import type { Answer, QueryResult } from "../llm/mod.ts";
import { usageRecordsOf } from "./usage_accounting.ts";

const TITLE_CHARS = 80;

export interface TurnToStore {
  principal: Principal;
  /** False: only the usage rows are stored (no conversation, no messages). */
  store?: boolean;
  /** Also the id of the stored user message. */
  turnId: string;
  conversation: { id: string; isNew: boolean; chatbotId: string | null };
  message: string;
  result: QueryResult;
}

/** A conversation's title: its first message on one line, shortened. */
export function titleFrom(message: string): string {
  const line = message.replace(/\s+/g, " ").trim();
  if (line.length <= TITLE_CHARS) return line || "Untitled";
  return line.slice(0, TITLE_CHARS - 1).trimEnd() + "…";
}

/**
 * Stores the user's message, every answer and a usage row per model call in
 * one atomic statement, so a conversation never shows a question without its
 * answers nor usage without the turn. Returns the ids of the answer messages,
 * index-aligned with `result.answers`.
 *
 * The selected answer is stored first: history replays only the first reply
 * of each turn (see prompt.ts). A conversation deleted while its answer was
 * being generated stays deleted; the usage is still recorded, unlinked.
 */
export async function persistTurn(sql: Sql, turn: TurnToStore): Promise<string[]> {
  const { principal, conversation, result } = turn;
  const answerIds = result.answers.map(() => crypto.randomUUID());
  if (turn.store === false) {
    await insertUsageRecords(sql, usageRecordsOf(principal, result.answers));
    return answerIds;
  }
  const order = result.answers.map((_, i) => i);
  if (result.selected !== null) {
    order.splice(order.indexOf(result.selected), 1);
    order.unshift(result.selected);
  }
  const messages: NewMessage[] = [
    {
      id: turn.turnId,
      role: "user",
      content: turn.message,
      model: null,
      status: "complete",
      metadata: null,
    },
    ...order.map((i) =>
      answerMessage(answerIds[i]!, result.answers[i]!, turn.turnId, i === result.selected)
    ),
  ];
  await storeTurn(sql, {
    conversation: {
      id: conversation.id,
      userId: principal.userId,
      chatbotId: conversation.chatbotId,
      title: titleFrom(turn.message),
      isNew: conversation.isNew,
    },
    messages,
    usage: usageRecordsOf(principal, result.answers),
  });
  return answerIds;
}

function answerMessage(id: string, answer: Answer, turnId: string, selected: boolean): NewMessage {
  return {
    id,
    role: "assistant",
    content: answer.content,
    model: answer.model,
    status: answer.status,
    metadata: {
      turn_id: turnId,
      finish_reason: answer.finish_reason,
      latency_ms: answer.latency_ms,
      usage: answer.usage,
      cost_usd: answer.cost_usd,
      ...(answer.error ? { error: answer.error } : {}),
      selected,
    },
  };
}
