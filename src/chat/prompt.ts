/**
 * Prompt assembly: the chatbot's system prompt and the user context the #5
 * builder allowed through, then recent history within a token budget, then
 * the new message. Pure, so every rule here is unit-tested.
 */
import { renderUserContext, type UserContext } from "../context/user_context.ts";
import { ApiError } from "../errors.ts";
import type { ChatMessage } from "../llm/mod.ts";
import { estimateTokens } from "../llm/tokens.ts";

/** History beyond this estimate (tokens.ts) is left out, oldest first. */
export const HISTORY_TOKEN_BUDGET = 4_000;

export interface HistoryEntry {
  role: "user" | "assistant" | "system";
  content: string;
}

export interface PromptParts {
  systemPrompt: string | null;
  /** Only for chatbot turns: what the chatbot may know about the user. */
  userContext: UserContext | null;
  /** Oldest first, failed answers already left out by the reader. */
  history: HistoryEntry[];
  message: string;
  historyTokenBudget?: number;
}

export function assemblePrompt(parts: PromptParts): ChatMessage[] {
  const system = [
    parts.systemPrompt?.trim() ?? "",
    parts.userContext ? renderUserContext(parts.userContext) : "",
  ].filter(Boolean).join("\n\n");
  const history = withinBudget(
    oneReplyPerTurn(parts.history),
    parts.historyTokenBudget ?? HISTORY_TOKEN_BUDGET,
  );
  return [
    ...(system ? [{ role: "system" as const, content: system }] : []),
    ...history,
    { role: "user", content: parts.message },
  ];
}

/**
 * A conversation the client sent whole (OpenAI-compatible endpoint): the
 * chatbot's system prompt and the user context go first, then the client's
 * messages unchanged (its own system messages included, where it put them).
 */
export function assembleClientPrompt(parts: {
  systemPrompt: string | null;
  userContext: UserContext | null;
  messages: ChatMessage[];
}): ChatMessage[] {
  const system = [
    parts.systemPrompt?.trim() ?? "",
    parts.userContext ? renderUserContext(parts.userContext) : "",
  ].filter(Boolean).join("\n\n");
  return [...(system ? [{ role: "system" as const, content: system }] : []), ...parts.messages];
}

/**
 * Quality mode stores every model's answer; the first stored one is the
 * selected (best-ranked) answer, and only it continues the conversation.
 * Stored system messages are never replayed.
 */
export function oneReplyPerTurn(history: HistoryEntry[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const entry of history) {
    if (entry.role === "system") continue;
    const previous = out.at(-1);
    if (entry.role === "assistant" && previous?.role === "assistant") continue;
    out.push({ role: entry.role, content: entry.content });
  }
  return out;
}

/** The newest messages whose estimated tokens fit the budget, starting at a user message. */
export function withinBudget(history: ChatMessage[], budget: number): ChatMessage[] {
  let used = 0;
  let start = history.length;
  while (start > 0) {
    const cost = estimateTokens(history[start - 1]!.content);
    if (used + cost > budget) break;
    used += cost;
    start -= 1;
  }
  while (start < history.length && history[start]!.role !== "user") start += 1;
  return history.slice(start);
}

/** Refuses a prompt over MAX_PROMPT_CHARS with the contract's 422, naming the field. */
export function assertPromptLength(text: string, maxChars: number, field: string): void {
  if (text.length <= maxChars) return;
  throw ApiError.invalid(field, `must be at most ${maxChars} characters`);
}
