/**
 * The spend gate every model call passes through. The router asks the gate to
 * reserve a call's worst case before it goes upstream and hands back what was
 * really used afterwards, whatever happened (answer, failure, cut stream,
 * caller gone). The gate is supplied by the caller of the router (the spend
 * service); this package only defines the shape, so it stays a leaf.
 */
import type { TokenUsage } from "./provider.ts";

/** What the gate needs of a model (a ModelInfo fits); kept here so this module stays a leaf. */
export interface GatedModel {
  id: string;
  /** USD per million tokens. */
  prices: { input_per_mtok: number; output_per_mtok: number };
  timeout_ms: number;
}

/** Output cap sent upstream when the request names none. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;

export interface PlannedCall {
  model: GatedModel;
  /** ceil(chars / 4) summed over every message sent upstream. */
  promptTokens: number;
  /** The output limit sent upstream as max_tokens. */
  outputCap: number;
}

export interface CallOutcome {
  usage: TokenUsage;
  /** Provider-reported counts, or our estimate when it reported none. */
  source: "provider" | "estimated";
  status: "complete" | "incomplete" | "error";
  costUsd: number;
  latencyMs: number;
}

/** A reserved call; `settle` is called exactly once and never throws. */
export interface CallTicket {
  settle(outcome: CallOutcome): Promise<void>;
}

/**
 * Refusal of a reservation. `code` becomes the refused model's answer error;
 * `reason` is what the caller rethrows when no model at all could be reserved
 * (e.g. an HTTP 429 or 503 of the layer above).
 */
export class CallRefusedError extends Error {
  override readonly name = "CallRefusedError";
  constructor(
    readonly code: "rate_limited" | "budget_unavailable",
    message: string,
    readonly reason: unknown,
  ) {
    super(message);
  }
}

export interface CallGate {
  /** Resolves with a ticket, or rejects with CallRefusedError. */
  reserve(call: PlannedCall): Promise<CallTicket>;
}
