import type { Answer } from "../llm/mod.ts";

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
  // Same micro-dollar rounding as per-call costs, so sums carry no float noise.
  return { input_tokens: input, output_tokens: output, cost_usd: Math.round(cost * 1e6) / 1e6 };
}
