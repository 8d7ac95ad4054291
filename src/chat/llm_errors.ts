import { ApiError } from "../errors.ts";
import { AllModelsFailedError, InvalidQueryError, UnknownModelError } from "../llm/mod.ts";
import type { Answer } from "../llm/mod.ts";

/**
 * The 503 of a turn in which no model answered, saying why for each; or, when
 * a streamed answer was cut by its model failing, that it is incomplete.
 */
export function allModelsFailed(answers: Answer[], conversationId?: string): ApiError {
  const cut = answers.find((a) => a.status === "incomplete" && a.error);
  if (cut) {
    return new ApiError(
      "service_unavailable",
      "The model failed in the middle of its answer; what was sent is incomplete.",
      {
        ...(conversationId ? { conversation_id: conversationId } : {}),
        model: cut.model,
        reason: cut.error,
        usage: { ...cut.usage, cost_usd: cut.cost_usd },
      },
    );
  }
  return new ApiError("service_unavailable", "No model could answer; try again shortly.", {
    ...(conversationId ? { conversation_id: conversationId } : {}),
    answers: answers.map((a) => ({ model: a.model, error: a.error ?? null })),
  });
}

/**
 * Maps the router's typed errors to the contract: bad model choices are 422,
 * nothing available is 503. Anything else passes through unchanged.
 */
export function llmErrorToApiError(error: unknown): unknown {
  if (error instanceof UnknownModelError) {
    // The same form as every schema failure: the standard message, the issue inside.
    return ApiError.issues(error.unknown.map((model) => ({
      path: ["models"],
      message: `Unknown model: ${model} (see GET /v1/models)`,
    })));
  }
  if (error instanceof InvalidQueryError) {
    return ApiError.invalid([], error.message);
  }
  if (error instanceof AllModelsFailedError) return allModelsFailed(error.answers);
  return error;
}
