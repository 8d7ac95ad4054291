/**
 * The operations a model answers: `query`, `queryChatbot` and `sendChatMessage`, each as JSON
 * or as Server-Sent Events (turn_response.ts).
 */
import { z } from "@hono/zod-openapi";
import { chatBody, chatbotQueryBody, queryBody } from "../chat/responses.ts";
import { messageTurn, respondWithTurn } from "./turn_response.ts";
import {
  AnswerSchema,
  AnswerText,
  EmptyToolList,
  jsonOrEventStream,
  MessageText,
  StreamFlag,
  STREAMING_DESCRIPTION,
  TotalUsageSchema,
} from "./chat_schemas.ts";
import { MAX_QUALITY_MODELS, QUERY_MODES } from "../llm/mod.ts";
import {
  ConsentRequirementSchema,
  EXAMPLE_USER_CONTEXT,
  UserContextSchema,
} from "./context_schemas.ts";
import { jsonBody } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { EXAMPLE_IDS, ModelId, Timestamp, uuid } from "./shared_schemas.ts";

const MAX_OUTPUT_TOKENS = 65_536;
const MAX_LISTED_MODELS = 20;

const QueryBody = z.object({
  prompt: MessageText("What is a capability-based security model?"),
  mode: z.enum(QUERY_MODES).openapi({
    description: "`speed`: the fastest healthy model; `balanced`: the best-ranked, falling " +
      "back down the ranking; `quality`: up to `max_models` top models in parallel.",
    example: "balanced",
  }),
  max_models: z.number().int().min(1).max(MAX_QUALITY_MODELS).optional().openapi({
    format: "int32",
    description: `Quality mode: how many models answer (default 3, max ${MAX_QUALITY_MODELS}).`,
  }),
  models: z.array(ModelId).min(1).max(MAX_LISTED_MODELS).optional().openapi({
    description: "Restricts the candidates to these ids from listModels (unknown ids: 422).",
  }),
  chatbot_id: z.uuid().max(36).optional().openapi({
    description: "Answer as this chatbot: its system prompt, models, temperature and the " +
      "user context it may see (`models` and `temperature` given here take precedence). A " +
      "chatbot-bound key may name only its own chatbot, and uses it by default.",
  }),
  conversation_id: z.uuid().max(36).optional().openapi({
    description: "Continue this conversation (its recent history goes to the model).",
  }),
  stream: StreamFlag,
  temperature: z.number().min(0).max(2).optional().openapi({ example: 0.7 }),
  max_tokens: z.number().int().min(1).max(MAX_OUTPUT_TOKENS).optional().openapi({
    format: "int32",
    description: "Upper bound of generated tokens per model.",
  }),
}).openapi("QueryRequest");

const QueryResponse = z.object({
  id: z.uuid().max(36).openapi({ description: "The query; also the id of the stored prompt." }),
  conversation_id: z.uuid().max(36),
  mode: z.enum(QUERY_MODES),
  answers: z.array(AnswerSchema).max(32).openapi({
    description: "Every model call: quality mode one per model in rank order; speed and " +
      "balanced list failed attempts before the answer that succeeded.",
  }),
  selected: z.number().int().min(0).max(31).nullable().openapi({
    format: "int32",
    description: "Index of the best-ranked successful answer.",
  }),
  usage: TotalUsageSchema,
  requires_consent: ConsentRequirementSchema.optional(),
  timestamp: Timestamp,
}).openapi("QueryResponse");

/** query's answer to its request example, as JSON and (the same) as the SSE `done` event. */
const EXAMPLE_QUERY_ANSWER: z.output<typeof QueryResponse> = {
  id: "5c0d9a7e-2b4f-4e31-8a6d-7f1b3c9e2d40",
  conversation_id: EXAMPLE_IDS.conversation,
  mode: "speed",
  answers: [{
    model: "echo-fast",
    content: "Echo: What is a capability-based security model?",
    finish_reason: "stop",
    latency_ms: 3,
    usage: { input_tokens: 11, output_tokens: 12 },
    cost_usd: 0.0000059,
    status: "complete",
  }],
  selected: 0,
  usage: { input_tokens: 11, output_tokens: 12, cost_usd: 0.0000059 },
  timestamp: "2026-11-23T12:00:00.000Z",
};

const ChatbotQueryBody = z.object({
  message: MessageText("How do I reset my password?"),
  conversation_id: z.uuid().max(36).optional(),
  stream: StreamFlag,
}).openapi("ChatbotQueryRequest");

const ChatbotQueryResponse = z.object({
  chatbot_id: z.uuid().max(36),
  chatbot_name: z.string().max(100),
  conversation_id: z.uuid().max(36),
  message_id: z.uuid().max(36).openapi({ description: "The stored answer." }),
  user_message: AnswerText,
  user_context: UserContextSchema.openapi({
    description: "What the chatbot was allowed to know about the user for this answer.",
  }),
  answer: AnswerText.openapi({ example: "Open Settings, then Security." }),
  model: ModelId,
  usage: TotalUsageSchema,
  requires_consent: ConsentRequirementSchema.optional(),
  timestamp: Timestamp,
}).openapi("ChatbotQueryResponse");

/** queryChatbot's answer to its request example (the chatbot of createChatbot's example). */
const EXAMPLE_CHATBOT_ANSWER: z.output<typeof ChatbotQueryResponse> = {
  chatbot_id: EXAMPLE_IDS.chatbot,
  chatbot_name: "Support assistant",
  conversation_id: EXAMPLE_IDS.chatbotConversation,
  message_id: "648dc073-3304-4f07-b9ac-fea97047d9e8",
  user_message: "How do I reset my password?",
  user_context: EXAMPLE_USER_CONTEXT,
  answer: "Open Settings, then Security, and choose Reset password.",
  model: "gpt-4o",
  usage: { input_tokens: 58, output_tokens: 13, cost_usd: 0.000275 },
  timestamp: "2026-11-23T12:12:01.000Z",
};

const ChatMessageBody = z.object({
  message: MessageText("Hello! What can you do?"),
  conversation_id: z.uuid().max(36).optional().openapi({
    description: "Continue this conversation; without it a new one starts.",
  }),
  chatbot_id: z.uuid().max(36).optional().openapi({
    description: "Talk to this chatbot (default: the conversation's, or a bound key's).",
  }),
  stream: StreamFlag,
}).openapi("ChatMessageRequest");

const ChatMessageResponse = z.object({
  conversation_id: z.uuid().max(36),
  message_id: z.uuid().max(36).openapi({ description: "The stored reply." }),
  content: AnswerText.openapi({ example: "Echo: Hello! What can you do?" }),
  model: ModelId,
  usage: TotalUsageSchema,
  timestamp: Timestamp,
  tool_calls: EmptyToolList,
  results: EmptyToolList,
  requires_consent: ConsentRequirementSchema.optional(),
}).openapi("ChatMessageResponse");

/** The reply to sendChatMessage's request example, as JSON and as the SSE `done` event. */
const EXAMPLE_REPLY: z.output<typeof ChatMessageResponse> = {
  conversation_id: "57dc3377-070e-455f-b45f-82e3c7c2e69e",
  message_id: "2d090401-6e59-433d-bc0d-1b9ac028231e",
  content: "Hi! I can answer questions, explain concepts and help you draft text.",
  model: "gpt-4o",
  usage: { input_tokens: 14, output_tokens: 17, cost_usd: 0.000205 },
  timestamp: "2026-11-23T12:03:02.000Z",
  tool_calls: [],
  results: [],
};

export const queryRoutes = [
  operation({
    method: "post",
    path: "/v1/query",
    operationId: "query",
    tags: ["query"],
    summary: "Ask one or several models",
    description: "One failing model never fails the request while another answered; when every " +
      "model fails the answer is 503. " + STREAMING_DESCRIPTION,
    access: authenticated({ scopes: ["query"] }),
    request: {
      body: jsonBody(QueryBody, {
        prompt: "What is a capability-based security model?",
        mode: "speed",
      }),
    },
    responses: {
      200: jsonOrEventStream(QueryResponse, "The answers.", {
        json: EXAMPLE_QUERY_ANSWER,
        stream: {
          id: EXAMPLE_QUERY_ANSWER.id,
          model: "echo-fast",
          deltas: ["Echo: ", "What ", "is ", "a ", "capability-based ", "security ", "model?"],
          latency_ms: 3,
        },
      }),
    },
    errors: [400, 404, 413, 415, 422, 503],
  }, async (c) => {
    const body = c.req.valid("json");
    return await respondWithTurn(c, {
      message: body.prompt,
      promptField: "prompt",
      mode: body.mode,
      models: body.models,
      maxModels: body.max_models,
      chatbotId: body.chatbot_id,
      conversationId: body.conversation_id,
      temperature: body.temperature,
      maxTokens: body.max_tokens,
      stream: body.stream,
    }, queryBody);
  }),

  operation({
    method: "post",
    path: "/v1/chatbots/{chatbot_id}/query",
    operationId: "queryChatbot",
    tags: ["query"],
    summary: "Ask a chatbot",
    description: "Uses the chatbot's system prompt, models and temperature, and the user " +
      "context its `context_fields` and the user's consent allow; fields awaiting consent are " +
      "left out and `requires_consent` says which. " + STREAMING_DESCRIPTION,
    access: authenticated({ scopes: ["query"] }),
    request: {
      params: z.object({ chatbot_id: uuid("chatbot_id") }),
      body: jsonBody(ChatbotQueryBody, { message: "How do I reset my password?" }),
    },
    responses: {
      200: jsonOrEventStream(ChatbotQueryResponse, "The chatbot's answer.", {
        json: EXAMPLE_CHATBOT_ANSWER,
        stream: {
          id: "208eaff9-f954-4145-95e2-17987e306ce5",
          model: "gpt-4o",
          deltas: ["Open Settings, ", "then Security, ", "and choose ", "Reset password."],
          latency_ms: 912,
        },
      }),
    },
    errors: [400, 404, 413, 415, 422, 503],
  }, async (c) => {
    const body = c.req.valid("json");
    return await respondWithTurn(
      c,
      messageTurn(body, c.req.valid("param").chatbot_id),
      (turn, record) => chatbotQueryBody(turn, record, body.message),
    );
  }),

  operation({
    method: "post",
    path: "/v1/chat/messages",
    operationId: "sendChatMessage",
    tags: ["chat"],
    summary: "Send a chat message and get the reply",
    description: "The reply comes from the best-ranked model that answers (falling back down " +
      "the ranking), or the chatbot's models. No tools are configured, so `tool_calls` and " +
      "`results` are always empty. " + STREAMING_DESCRIPTION,
    access: authenticated({ scopes: ["chat"] }),
    request: { body: jsonBody(ChatMessageBody, { message: "Hello! What can you do?" }) },
    responses: {
      200: jsonOrEventStream(ChatMessageResponse, "The reply.", {
        json: EXAMPLE_REPLY,
        stream: {
          id: "98328a5d-2a3f-4612-8df3-3151878ba6e6",
          model: "gpt-4o",
          deltas: [
            "Hi! I can ",
            "answer questions, ",
            "explain concepts ",
            "and help you draft text.",
          ],
          latency_ms: 640,
        },
      }),
    },
    errors: [400, 404, 413, 415, 422, 503],
  }, async (c) => {
    const body = c.req.valid("json");
    return await respondWithTurn(c, messageTurn(body, body.chatbot_id), chatBody);
  }),
];
