/**
 * Public entry point of the LLM layer. Typical wiring:
 *
 *   const registry = ModelRegistry.fromSettings(config.llm);
 *   const router = new LlmRouter(registry);
 *   const result = await router.runQuery({ mode: "balanced", messages, signal: c.req.raw.signal });
 */
export type {
  ChatMessage,
  Completion,
  CompletionRequest,
  LlmProvider,
  StreamEvent,
  TokenUsage,
} from "./provider.ts";
export {
  AllModelsFailedError,
  InvalidQueryError,
  ProviderError,
  type ProviderErrorCode,
  UnknownModelError,
} from "./errors.ts";
export { DEFAULT_ECHO_MODELS, type EchoModelSpec, EchoProvider } from "./echo_provider.ts";
export { OpenAIProvider, type OpenAIProviderOptions } from "./openai_provider.ts";
export type { HealthOptions, HealthSnapshot, HealthStatus } from "./health.ts";
export {
  type CallGate,
  type CallOutcome,
  CallRefusedError,
  type CallTicket,
  DEFAULT_MAX_OUTPUT_TOKENS,
  type GatedModel,
  type PlannedCall,
} from "./gate.ts";
export { estimatePromptTokens, estimateTokens } from "./tokens.ts";
export {
  costMicroUsd,
  costUsd,
  DEFAULT_TIMEOUT_MS,
  echoEntry,
  llmProvidersSchema,
  type LlmSettings,
  MODEL_ID_MAX_LENGTH,
  MODEL_ID_PATTERN,
  type ModelConfig,
  type ModelInfo,
  ModelRegistry,
  type ModelWithHealth,
  type ProviderConfig,
  type ProviderEntry,
} from "./models.ts";
export { AsyncQueue } from "./async_queue.ts";
export { DEFAULT_STREAM_IDLE_TIMEOUT_MS, LlmRouter, type RouterOptions } from "./router.ts";
export {
  type Answer,
  type AnswerError,
  type AnswerStatus,
  DEFAULT_QUALITY_MODELS,
  MAX_QUALITY_MODELS,
  QUERY_MODES,
  type QueryEvent,
  type QueryMode,
  type QueryOptions,
  type QueryResult,
  type QueryStream,
} from "./query_types.ts";
