import type { Principal } from "../principal.ts";
import type { Sql } from "../db/client.ts";
import { storeTurn } from "../db/conversations.ts";
import { completeTurn, type NewMessage } from "../db/messages.ts";
import type { Answer, QueryResult } from "../llm/mod.ts";

const TITLE_CHARS = 80;

export interface TurnToStore {
  principal: Principal;
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
 * Writes the turn before any model is called: the conversation (created or
 * touched), the user's message and an assistant message with status
 * `pending`, in one statement. A crash from here on leaves a turn that the
 * next start closes as `incomplete`.
 */
export async function persistPendingTurn(
  sql: Sql,
  turn: Omit<TurnToStore, "result"> & { pendingId: string; model: string | null },
): Promise<void> {
  const { principal, conversation } = turn;
  await storeTurn(sql, {
    conversation: {
      id: conversation.id,
      userId: principal.userId,
      chatbotId: conversation.chatbotId,
      title: titleFrom(turn.message),
      isNew: conversation.isNew,
    },
    messages: [
      {
        id: turn.turnId,
        role: "user",
        content: turn.message,
        model: null,
        status: "complete",
        metadata: null,
      },
      {
        id: turn.pendingId,
        role: "assistant",
        content: "",
        model: turn.model,
        status: "pending",
        metadata: { turn_id: turn.turnId },
      },
    ],
  });
}

/**
 * Completes a pending turn with its answers (usage rows are the spend
 * ledger's, written per model call). Returns the ids of the answer messages,
 * index-aligned with `result.answers`; the selected answer (else the first)
 * takes the pending message's place: history replays only the first reply of
 * each turn (see prompt.ts). A conversation deleted meanwhile stays deleted.
 */
export async function completePersistedTurn(
  sql: Sql,
  turn: { turnId: string; pendingId: string; conversationId: string; result: QueryResult },
): Promise<string[]> {
  const { result } = turn;
  const lead = result.selected ?? 0;
  const answerIds = result.answers.map((_, i) => i === lead ? turn.pendingId : crypto.randomUUID());
  const messages = result.answers.map((a, i) =>
    answerMessage(answerIds[i]!, a, turn.turnId, i === result.selected)
  );
  if (messages.length === 0) {
    // Nothing was called (cannot happen after a successful reservation); close the turn.
    messages.push({
      id: turn.pendingId,
      role: "assistant",
      content: "",
      model: null,
      status: "error",
      metadata: { turn_id: turn.turnId },
    });
  }
  const [first, ...rest] = [
    messages[lead] ?? messages[0]!,
    ...messages.filter((_, i) => i !== lead),
  ];
  await completeTurn(sql, {
    conversationId: turn.conversationId,
    pendingId: turn.pendingId,
    first,
    rest,
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
