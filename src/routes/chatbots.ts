import type { ModelRegistry } from "../llm/models.ts";
import { z } from "@hono/zod-openapi";
import {
  type ChatbotFields,
  type ChatbotRow,
  deleteChatbot,
  findChatbot,
  insertChatbot,
  listChatbots,
  updateChatbot,
} from "../db/chatbots.ts";
import { ApiError } from "../errors.ts";
import { chatbotScopeOf } from "../auth/access.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, ModelId, Timestamp, uuid } from "./shared_schemas.ts";

const MAX_MODELS = 5;
const MAX_CONTEXT_FIELDS = 50;
const MAX_SYSTEM_PROMPT_CHARS = 8000;

const FieldName = z.string().trim().min(1).max(64).openapi({
  description: "A key of the user's `user_profile` or `preferences`.",
  example: "company",
});
const Temperature = z.number().min(0).max(2).openapi({ example: 0.7 });

const ChatbotSchema = z.object({
  id: z.uuid().max(36),
  user_id: z.uuid().max(36).openapi({ description: "The owner." }),
  name: z.string().max(100).openapi({ example: "Support" }),
  description: z.string().max(1000).nullable(),
  system_prompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).nullable(),
  models: z.array(ModelId).max(MAX_MODELS),
  temperature: Temperature.nullable(),
  context_fields: z.array(FieldName).max(MAX_CONTEXT_FIELDS),
  require_consent: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Chatbot");

/** The chatbot createChatbot's request example makes. */
const EXAMPLE_CHATBOT: z.output<typeof ChatbotSchema> = {
  id: EXAMPLE_IDS.chatbot,
  user_id: EXAMPLE_IDS.user,
  name: "Support assistant",
  description: "Answers questions about our product.",
  system_prompt: "You are a concise, friendly support assistant.",
  models: [],
  temperature: 0.7,
  context_fields: ["display_name", "company"],
  require_consent: false,
  created_at: "2026-11-23T12:08:00.000Z",
  updated_at: "2026-11-23T12:08:00.000Z",
};

/** The same chatbot after updateChatbot's request example. */
const EXAMPLE_UPDATED_CHATBOT: z.output<typeof ChatbotSchema> = {
  ...EXAMPLE_CHATBOT,
  description: "Answers questions about our product, briefly.",
  temperature: 0.3,
  updated_at: "2026-11-23T12:09:30.000Z",
};

const chatbotFields = {
  name: z.string().trim().min(1).max(100).openapi({ example: "Support" }),
  description: z.string().max(1000).nullable().optional(),
  system_prompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).nullable().optional().openapi({
    example: "You are a concise support assistant.",
  }),
  models: z.array(ModelId).max(MAX_MODELS).optional().openapi({
    description: `Up to ${MAX_MODELS} model ids from listModels.`,
  }),
  temperature: Temperature.nullable().optional(),
  context_fields: z.array(FieldName).max(MAX_CONTEXT_FIELDS).optional().openapi({
    description: "Keys of `user_profile` or `preferences` this chatbot may send to a model.",
  }),
  require_consent: z.boolean().optional().openapi({
    description: "Send `context_fields` only after the user consented to them.",
  }),
};

// Unknown fields are ignored (the contract is strict only on privilege-changing writes).
const CreateChatbotBody = z.object(chatbotFields).openapi("CreateChatbotRequest");
const UpdateChatbotBody = z.object({ ...chatbotFields, name: chatbotFields.name.optional() })
  .openapi("UpdateChatbotRequest");

const ChatbotParams = z.object({ chatbot_id: uuid("chatbot_id") });

/** Chatbot models must be ids from the model registry (`listModels`). */
function assertKnownModels(registry: ModelRegistry, models: string[] | undefined): void {
  if (!models) return;
  const unknown = models.filter((model) => !registry.has(model));
  if (unknown.length > 0) {
    throw ApiError.issues(unknown.map((model) => ({
      path: ["models"],
      message: `Unknown model: ${model} (see GET /v1/models)`,
    })));
  }
}

const distinct = <T>(values: T[] | undefined) => values && [...new Set(values)];

function toChatbot(row: ChatbotRow) {
  return {
    ...row,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export const chatbotRoutes = [
  operation({
    method: "post",
    path: "/v1/chatbots",
    operationId: "createChatbot",
    tags: ["chatbots"],
    summary: "Create a chatbot",
    description: "Owned by the caller. Unknown fields are ignored; a chatbot-bound key gets 403.",
    access: authenticated({ scopes: ["chatbots:write"] }),
    request: {
      body: jsonBody(CreateChatbotBody, {
        name: "Support assistant",
        description: "Answers questions about our product.",
        system_prompt: "You are a concise, friendly support assistant.",
        temperature: 0.7,
        context_fields: ["display_name", "company"],
        require_consent: false,
      }),
    },
    responses: { 201: jsonResponse(ChatbotSchema, "Created.", { example: EXAMPLE_CHATBOT }) },
    errors: [400, 413, 415, 422],
  }, async (c) => {
    const services = c.get("services");
    const principal = c.get("principal");
    if (principal.chatbotId) {
      throw new ApiError("forbidden", "A chatbot-bound key cannot create chatbots.");
    }
    const body = c.req.valid("json");
    assertKnownModels(services.models, body.models);
    const fields: ChatbotFields = {
      name: body.name,
      description: body.description ?? null,
      system_prompt: body.system_prompt ?? null,
      models: distinct(body.models) ?? [],
      temperature: body.temperature ?? null,
      context_fields: distinct(body.context_fields) ?? [],
      require_consent: body.require_consent ?? false,
    };
    const row = await insertChatbot(services.sql, principal.userId, fields);
    return c.json(toChatbot(row), 201);
  }),

  operation({
    method: "get",
    path: "/v1/chatbots",
    operationId: "listChatbots",
    tags: ["chatbots"],
    summary: "List your chatbots (admins: all)",
    description: "A chatbot-bound key sees only its chatbot.",
    access: authenticated({ scopes: ["chatbots:read"] }),
    request: { query: PageQuery },
    responses: {
      200: pageResponse(ChatbotSchema, "ChatbotPage", "Chatbots, newest first.", [
        EXAMPLE_UPDATED_CHATBOT,
        {
          id: "1e3c5a7f-9b2d-4c6e-8f0a-2b4d6f8a0c35",
          user_id: EXAMPLE_IDS.user,
          name: "Release notes writer",
          description: null,
          system_prompt: "Turn the user's change list into short release notes.",
          models: ["echo-smart", "echo-fast"],
          temperature: null,
          context_fields: [],
          require_consent: false,
          created_at: "2026-11-21T16:40:00.000Z",
          updated_at: "2026-11-21T16:40:00.000Z",
        },
      ]),
    },
    errors: [400, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const page = c.req.valid("query");
    return c.json(
      pageBody(page, await listChatbots(sql, chatbotScopeOf(c.get("principal")), page), toChatbot),
      200,
    );
  }),

  operation({
    method: "get",
    path: "/v1/chatbots/{chatbot_id}",
    operationId: "getChatbot",
    tags: ["chatbots"],
    summary: "Get a chatbot",
    description: "Owner or admin; anyone else's chatbot is 404.",
    access: authenticated({ scopes: ["chatbots:read"] }),
    request: { params: ChatbotParams },
    responses: {
      200: jsonResponse(ChatbotSchema, "The chatbot.", { example: EXAMPLE_UPDATED_CHATBOT }),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const id = c.req.valid("param").chatbot_id;
    const row = await findChatbot(sql, id, chatbotScopeOf(c.get("principal")));
    if (!row) throw ApiError.notFound("chatbot");
    return c.json(toChatbot(row), 200);
  }),

  operation({
    method: "patch",
    path: "/v1/chatbots/{chatbot_id}",
    operationId: "updateChatbot",
    tags: ["chatbots"],
    summary: "Update a chatbot",
    description: "Owner or admin. Only the given fields change; null clears optional ones.",
    access: authenticated({ scopes: ["chatbots:write"] }),
    request: {
      params: ChatbotParams,
      body: jsonBody(UpdateChatbotBody, {
        description: "Answers questions about our product, briefly.",
        temperature: 0.3,
      }),
    },
    responses: {
      200: jsonResponse(ChatbotSchema, "The updated chatbot.", {
        example: EXAMPLE_UPDATED_CHATBOT,
      }),
    },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const services = c.get("services");
    const id = c.req.valid("param").chatbot_id;
    const body = c.req.valid("json");
    assertKnownModels(services.models, body.models);
    const row = await updateChatbot(services.sql, id, chatbotScopeOf(c.get("principal")), {
      ...body,
      models: distinct(body.models),
      context_fields: distinct(body.context_fields),
    });
    if (!row) throw ApiError.notFound("chatbot");
    return c.json(toChatbot(row), 200);
  }),

  operation({
    method: "delete",
    path: "/v1/chatbots/{chatbot_id}",
    operationId: "deleteChatbot",
    tags: ["chatbots"],
    summary: "Delete a chatbot (its bound API keys and consents go with it)",
    description: "Owner or admin. Conversations with it are kept, unlinked.",
    access: authenticated({ scopes: ["chatbots:write"] }),
    request: { params: ChatbotParams },
    responses: { 204: noContentResponse("Deleted.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql, authenticator } = c.get("services");
    const id = c.req.valid("param").chatbot_id;
    if (!(await deleteChatbot(sql, id, chatbotScopeOf(c.get("principal"))))) {
      throw ApiError.notFound("chatbot");
    }
    // Keys bound to the chatbot were deleted with it: stop trusting cached copies here.
    authenticator.forgetAll();
    return c.body(null, 204);
  }),
];
