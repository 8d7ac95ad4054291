import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../http/env.ts";
import { requireAuth } from "../http/require_auth.ts";
import { assertPromptLength } from "../chat/prompt.ts";
import { respondWithTurn } from "./turn_response.ts";
import { chatBody } from "../chat/responses.ts";
import {
  AnswerText,
  EmptyToolList,
  eventStreamExample,
  jsonOrEventStream,
  MessageText,
  StreamFlag,
  STREAMING_DESCRIPTION,
  TotalUsageSchema,
} from "./chat_schemas.ts";
import { ConsentRequirementSchema } from "./context_schemas.ts";
import { errorResponses, jsonBody } from "./openapi_responses.ts";
import { anyCredential } from "./security.ts";
import { ModelId, Timestamp } from "./shared_schemas.ts";

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

const sendChatMessageRoute = createRoute({
  method: "post",
  path: "/v1/chat/messages",
  operationId: "sendChatMessage",
  tags: ["chat"],
  summary: "Send a chat message and get the reply",
  description: "The reply comes from the best-ranked model that answers (falling back down " +
    "the ranking), or the chatbot's models. No tools are configured, so `tool_calls` and " +
    "`results` are always empty. " + STREAMING_DESCRIPTION,
  security: anyCredential,
  middleware: [requireAuth({ scopes: ["chat"] })] as const,
  request: { body: jsonBody(ChatMessageBody, { message: "Hello! What can you do?" }) },
  responses: {
    200: jsonOrEventStream(ChatMessageResponse, "The reply.", {
      json: EXAMPLE_REPLY,
      events: eventStreamExample([
        ["meta", {
          id: "98328a5d-2a3f-4612-8df3-3151878ba6e6",
          conversation_id: EXAMPLE_REPLY.conversation_id,
          models: ["gpt-4o"],
        }],
        ...["Hi! I can ", "answer questions, ", "explain concepts ", "and help you draft text."]
          .map((delta): [string, unknown] => ["chunk", { model: "gpt-4o", delta }]),
        ["usage", {
          model: "gpt-4o",
          usage: { input_tokens: 14, output_tokens: 17 },
          cost_usd: 0.000205,
          latency_ms: 640,
          finish_reason: "stop",
        }],
        ["done", EXAMPLE_REPLY],
      ]),
    }),
    ...errorResponses([400, 401, 403, 404, 413, 415, 422, 429, 500, 503], { limited: true }),
  },
});

export function registerChatRoutes(app: App): void {
  app.openapi(sendChatMessageRoute, async (c) => {
    const body = c.req.valid("json");
    assertPromptLength(body.message, c.get("services").config.MAX_PROMPT_CHARS, "message");
    return await respondWithTurn(c, {
      message: body.message,
      mode: "balanced",
      chatbotId: body.chatbot_id,
      conversationId: body.conversation_id,
      stream: body.stream,
    }, chatBody);
  });
}
