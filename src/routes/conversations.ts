import { z } from "@hono/zod-openapi";
import { conversationScopeOf } from "../auth/access.ts";
import { AnswerText, CostUsd, TokenUsageSchema } from "./chat_schemas.ts";
import {
  type ConversationRow,
  deleteConversation,
  findConversation,
  listConversations,
} from "../db/conversations.ts";
import { conversationMessages, type MessageRow } from "../db/messages.ts";
import { ApiError } from "../errors.ts";
import { jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, ModelId, Timestamp, uuid } from "./shared_schemas.ts";

/** getConversation returns at most this many messages: the latest ones. */
const MAX_RETURNED_MESSAGES = 500;

const ConversationFields = {
  id: z.uuid().max(36),
  title: z.string().max(100).nullable().openapi({ example: "How do I reset my password?" }),
  chatbot_id: z.uuid().max(36).nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  message_count: z.number().int().min(0).max(2_147_483_647).openapi({ format: "int32" }),
};

const ConversationSummary = z.object({
  ...ConversationFields,
  last_message_preview: z.string().max(120).nullable().openapi({
    description: "The start of the latest message.",
  }),
}).openapi("ConversationSummary");

const MessageSchema = z.object({
  id: z.uuid().max(36),
  role: z.enum(["user", "assistant", "system"]),
  content: AnswerText,
  model: ModelId.nullable(),
  status: z.enum(["pending", "complete", "incomplete", "error"]).openapi({
    description: "`pending`: being generated right now; `incomplete`: the client left " +
      "mid-stream (or the service stopped); `error`: the model failed.",
  }),
  finish_reason: z.string().max(64).nullable(),
  // A union, not .nullable(): on a named schema that emits allOf [$ref, {type: [object,
  // null]}], which admits no null (user messages have none).
  usage: z.union([TokenUsageSchema, z.null()]).openapi({
    description: "Token counts of an assistant message; null on user and system messages.",
  }),
  cost_usd: CostUsd.nullable(),
  error: z.object({ code: z.string().max(64), message: z.string().max(1000) }).nullable(),
  selected: z.boolean().nullable().openapi({
    description: "Assistant messages: whether this was the answer returned (quality mode " +
      "stores every model's answer).",
  }),
  created_at: Timestamp,
}).openapi("ConversationMessage");

const ConversationDetail = z.object({
  ...ConversationFields,
  messages: z.array(MessageSchema).max(MAX_RETURNED_MESSAGES).openapi({
    description: `Oldest first; the latest ${MAX_RETURNED_MESSAGES} when there are more.`,
  }),
}).openapi("Conversation");

/** The quality-mode conversation of the examples: a prompt and two models' answers. */
const EXAMPLE_QUALITY_CONVERSATION = {
  id: EXAMPLE_IDS.qualityConversation,
  title: "What is a capability-based security model?",
  chatbot_id: null,
  created_at: "2026-11-23T12:00:30.000Z",
  updated_at: "2026-11-23T12:00:30.000Z",
  message_count: 3,
};

const ConversationParams = z.object({ conversation_id: uuid("conversation_id") });
const chatAuth = authenticated({ scopes: ["chat"] });

function conversationFields(row: ConversationRow, messageCount: number) {
  return {
    id: row.id,
    title: row.title,
    chatbot_id: row.chatbot_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    message_count: messageCount,
  };
}

function toMessage(row: MessageRow) {
  const meta = row.metadata ?? {};
  return {
    id: row.id,
    role: row.role,
    content: row.content,
    model: row.model,
    status: row.status,
    finish_reason: meta.finish_reason ?? null,
    usage: meta.usage ?? null,
    cost_usd: meta.cost_usd ?? null,
    error: meta.error ?? null,
    selected: meta.selected ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export const conversationRoutes = [
  operation({
    method: "get",
    path: "/v1/chat/conversations",
    operationId: "listConversations",
    tags: ["chat"],
    summary: "List your conversations, most recently active first",
    description: "A chatbot-bound key sees only its chatbot's conversations.",
    access: chatAuth,
    request: { query: PageQuery },
    responses: {
      200: pageResponse(ConversationSummary, "ConversationPage", "Conversations.", [{
        id: EXAMPLE_IDS.chatbotConversation,
        title: "How do I reset my password?",
        chatbot_id: EXAMPLE_IDS.chatbot,
        created_at: "2026-11-23T12:12:00.000Z",
        updated_at: "2026-11-23T12:12:01.000Z",
        message_count: 2,
        last_message_preview: "Open Settings, then Security, and choose Reset password.",
      }, {
        ...EXAMPLE_QUALITY_CONVERSATION,
        last_message_preview: "A capability-based security model grants access through unforgeab",
      }]),
    },
    errors: [400, 422],
  }, async (c) => {
    const query = c.req.valid("query");
    const conversations = await listConversations(
      c.get("services").sql,
      conversationScopeOf(c.get("principal")),
      query,
    );
    return c.json(
      pageBody(query, conversations, (row) => ({
        ...conversationFields(row, row.message_count),
        last_message_preview: row.last_message_preview,
      })),
      200,
    );
  }),

  operation({
    method: "get",
    path: "/v1/chat/conversations/{conversation_id}",
    operationId: "getConversation",
    tags: ["chat"],
    summary: "Get a conversation with its messages",
    description: "Messages oldest first, each with its status; quality-mode turns list every " +
      "model's answer, the selected one first.",
    access: chatAuth,
    request: { params: ConversationParams },
    responses: {
      200: jsonResponse(ConversationDetail, "The conversation.", {
        // A quality-mode turn: the prompt, then every model's answer, the selected one first.
        example: {
          ...EXAMPLE_QUALITY_CONVERSATION,
          messages: [{
            id: "23d4b658-971a-4410-be81-873035ac553d",
            role: "user",
            content: "What is a capability-based security model?",
            model: null,
            status: "complete",
            finish_reason: null,
            usage: null,
            cost_usd: null,
            error: null,
            selected: null,
            created_at: "2026-11-23T12:00:30.000Z",
          }, {
            id: "bbb1c374-7eb1-4724-a0db-219cba78eeae",
            role: "assistant",
            content: "A capability-based security model grants access through unforgeable " +
              "tokens (capabilities) held by the caller, not through identity checks.",
            model: "gpt-4o",
            status: "complete",
            finish_reason: "stop",
            usage: { input_tokens: 14, output_tokens: 27 },
            cost_usd: 0.000305,
            error: null,
            selected: true,
            created_at: "2026-11-23T12:00:30.000Z",
          }, {
            id: "7b16df8f-6b91-469b-b17e-9a8bc7798464",
            role: "assistant",
            content: "",
            model: "gpt-4o-mini",
            status: "error",
            finish_reason: null,
            usage: { input_tokens: 14, output_tokens: 0 },
            cost_usd: 0.0000021,
            error: { code: "timeout", message: "openai: request timed out" },
            selected: false,
            created_at: "2026-11-23T12:00:30.000Z",
          }],
        },
      }),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const id = c.req.valid("param").conversation_id;
    const row = await findConversation(sql, id, conversationScopeOf(c.get("principal")));
    if (!row) throw ApiError.notFound("conversation");
    const messages = await conversationMessages(sql, id, MAX_RETURNED_MESSAGES);
    return c.json({
      ...conversationFields(row, messages.total),
      messages: messages.items.map(toMessage),
    }, 200);
  }),

  operation({
    method: "delete",
    path: "/v1/chat/conversations/{conversation_id}",
    operationId: "deleteConversation",
    tags: ["chat"],
    summary: "Delete a conversation and its messages",
    description: "Usage records of its model calls stay (unlinked) for accounting.",
    access: chatAuth,
    request: { params: ConversationParams },
    responses: { 204: noContentResponse("Deleted.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const id = c.req.valid("param").conversation_id;
    const deleted = await deleteConversation(
      c.get("services").sql,
      id,
      conversationScopeOf(c.get("principal")),
    );
    if (!deleted) throw ApiError.notFound("conversation");
    return c.body(null, 204);
  }),
];
