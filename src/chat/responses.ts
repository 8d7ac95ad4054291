/**
 * The JSON bodies of a finished turn, shared by the JSON responses, the SSE
 * `done` event and the WebSocket `done` message, so every way in answers alike.
 */
import type { Answer } from "../llm/mod.ts";
import { allModelsFailed } from "./llm_errors.ts";
import type { Turn, TurnRecord } from "./turn.ts";
import { totalUsage } from "./usage_accounting.ts";

function consentOf(turn: Turn) {
  return turn.requiresConsent ? { requires_consent: turn.requiresConsent } : {};
}

function answerJson(answer: Answer) {
  return {
    model: answer.model,
    content: answer.content,
    finish_reason: answer.finish_reason,
    latency_ms: answer.latency_ms,
    usage: answer.usage,
    cost_usd: answer.cost_usd,
    status: answer.status,
    ...(answer.error ? { error: answer.error } : {}),
  };
}

/** The answer a single-reply operation returns; 503 when no model answered. */
function selectedAnswer(turn: Turn, record: TurnRecord): { answer: Answer; messageId: string } {
  const { selected, answers } = record.result;
  if (selected === null) throw allModelsFailed(answers, turn.conversationId);
  return { answer: answers[selected]!, messageId: record.answerMessageIds[selected]! };
}

/** `query`: every answer, the selected index and the totals. */
export function queryBody(turn: Turn, record: TurnRecord) {
  const { answers, selected } = record.result;
  if (selected === null) throw allModelsFailed(answers, turn.conversationId);
  return {
    id: turn.id,
    conversation_id: turn.conversationId,
    mode: turn.mode,
    answers: answers.map(answerJson),
    selected,
    usage: totalUsage(answers),
    ...consentOf(turn),
    timestamp: record.timestamp,
  };
}

/** `sendChatMessage`: one reply. No tools are configured, so no tool calls or results. */
export function chatBody(turn: Turn, record: TurnRecord) {
  const { answer, messageId } = selectedAnswer(turn, record);
  return {
    conversation_id: turn.conversationId,
    message_id: messageId,
    content: answer.content,
    model: answer.model,
    usage: totalUsage(record.result.answers),
    timestamp: record.timestamp,
    tool_calls: [] as never[],
    results: [] as never[],
    ...consentOf(turn),
  };
}

/** `queryChatbot`: the reply with the context the chatbot was given. */
export function chatbotQueryBody(turn: Turn, record: TurnRecord, message: string) {
  const { answer, messageId } = selectedAnswer(turn, record);
  return {
    chatbot_id: turn.chatbot!.id,
    chatbot_name: turn.chatbot!.name,
    conversation_id: turn.conversationId,
    message_id: messageId,
    user_message: message,
    user_context: turn.userContext!,
    answer: answer.content,
    model: answer.model,
    usage: totalUsage(record.result.answers),
    ...consentOf(turn),
    timestamp: record.timestamp,
  };
}
