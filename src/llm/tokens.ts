/**
 * Deterministic token estimation, used by the echo provider and whenever an
 * upstream does not report usage (or a stream is cut before its usage chunk).
 *
 * Rule: ceil(characters / 4) per text — OpenAI's published rule of thumb for
 * English — and the sum over messages for a prompt (no per-message overhead).
 * It is an estimate for accounting, not a tokenizer.
 */
import type { ChatMessage } from "./provider.ts";

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + estimateTokens(m.content), 0);
}
