import type { Principal } from "../principal.ts";
import type { NewUsageRecord } from "../db/usage.ts";
import type { Answer } from "../llm/mod.ts";

/**
 * One usage row per model call, failed and cut-off calls included: the caller
 * is accounted for what upstream was asked to do (tokens come from the
 * provider when reported, else the shared estimate; nothing generated is 0).
 */
export function usageRecordsOf(principal: Principal, answers: readonly Answer[]): NewUsageRecord[] {
  return answers.map((answer) => ({
    userId: principal.userId,
    apiKeyId: principal.apiKeyId ?? null,
    model: answer.model,
    inputTokens: answer.usage.input_tokens,
    outputTokens: answer.usage.output_tokens,
    costUsd: answer.cost_usd,
    latencyMs: answer.latency_ms,
    status: answer.status,
  }));
}

/** Totals over a turn's answers, as the responses report them. */
export function totalUsage(answers: readonly Answer[]) {
  let input = 0;
  let output = 0;
  let cost = 0;
  for (const a of answers) {
    input += a.usage.input_tokens;
    output += a.usage.output_tokens;
    cost += a.cost_usd;
  }
  // Same nano-dollar rounding as per-call costs, so sums carry no float noise.
  return { input_tokens: input, output_tokens: output, cost_usd: Math.round(cost * 1e9) / 1e9 };
}
