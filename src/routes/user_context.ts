import { z } from "@hono/zod-openapi";
import {
  buildUserContext,
  DEFAULT_MAX_MESSAGES,
  MAX_CONTEXT_MESSAGES,
} from "../context/user_context.ts";
import { findChatbot } from "../db/chatbots.ts";
import { replaceUserDetails, type UserDetailsRow } from "../db/user_details.ts";
import { findUserById } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { authorizeUserTarget, chatbotScopeOf } from "../auth/access.ts";
import { EXAMPLE_USER_CONTEXT, UserContextSchema } from "./context_schemas.ts";
import { boundedJsonObject } from "./json_limits.ts";
import { jsonBody, jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { EXAMPLE_IDS, intQuery, Timestamp } from "./shared_schemas.ts";
import { UserParams } from "./users.ts";

const MAX_PROFILE_DATA_CHARS = 16_000;

const UserDetailsBody = z.object({
  profile: boundedJsonObject("Free-form profile facts; its keys join `user_profile`."),
  preferences: boundedJsonObject("Free-form preferences (language, tone, ...)."),
  profile_data: z.string().max(MAX_PROFILE_DATA_CHARS).nullable().optional().openapi({
    description: `Free text about the user, at most ${MAX_PROFILE_DATA_CHARS} characters.`,
    example: "Prefers short answers with code samples.",
  }),
}).strict().openapi("UserDetailsRequest", {
  description: "Replaces all details at once. Unknown fields are 422.",
});

const UserDetailsSchema = z.object({
  user_id: z.uuid().max(36),
  profile: boundedJsonObject("Free-form profile facts."),
  preferences: boundedJsonObject("Free-form preferences."),
  profile_data: z.string().max(MAX_PROFILE_DATA_CHARS).nullable(),
  updated_at: Timestamp,
}).openapi("UserDetails");

const ContextQuery = z.object({
  chatbot_id: z.uuid().max(36).optional().openapi({
    description: "Only this chatbot's `context_fields` (and, if it requires consent, the " +
      "consented ones). A chatbot-bound key always gets its chatbot's context.",
  }),
  conversation_id: z.uuid().max(36).optional().openapi({
    description: "One of the user's conversations, for `conversation_context`.",
  }),
  max_messages: intQuery(1, MAX_CONTEXT_MESSAGES, DEFAULT_MAX_MESSAGES),
});

function toUserDetails(row: UserDetailsRow) {
  return {
    user_id: row.user_id,
    profile: row.profile,
    preferences: row.preferences,
    profile_data: row.profile_data,
    updated_at: row.updated_at.toISOString(),
  };
}

export const userContextRoutes = [
  operation({
    method: "put",
    path: "/v1/users/{user_id}/details",
    operationId: "putUserDetails",
    tags: ["users"],
    summary: "Replace a user's profile, preferences and profile text",
    description: "Yourself, or anyone as an admin. One atomic replace; bounded sizes are 422, " +
      "a body over the request limit 413.",
    access: authenticated({ scopes: ["profile:write"] }),
    request: {
      params: UserParams,
      body: jsonBody(UserDetailsBody, {
        profile: { favourite_language: "TypeScript", timezone: "Europe/London" },
        preferences: { tone: "brief", language: "en" },
      }),
    },
    responses: {
      200: jsonResponse(UserDetailsSchema, "The stored details.", {
        example: {
          user_id: EXAMPLE_IDS.user,
          profile: { favourite_language: "TypeScript", timezone: "Europe/London" },
          preferences: { tone: "brief", language: "en" },
          profile_data: null,
          updated_at: "2026-11-23T12:20:00.000Z",
        },
      }),
    },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const userId = c.req.valid("param").user_id;
    const body = c.req.valid("json");
    authorizeUserTarget(c.get("principal"), userId, "manage");
    if (!(await findUserById(sql, userId))) throw ApiError.notFound("user");
    const row = await replaceUserDetails(sql, {
      userId,
      profile: body.profile,
      preferences: body.preferences,
      profileData: body.profile_data ?? null,
    });
    return c.json(toUserDetails(row), 200);
  }),

  operation({
    method: "get",
    path: "/v1/users/{user_id}/context",
    operationId: "getUserContext",
    tags: ["users"],
    summary: "The LLM-ready context of a user",
    description: "With `chatbot_id`, fields the chatbot needs consent for are left out and " +
      "`requires_consent` names the consent request to answer. A chatbot-bound key (with " +
      "`query` or `chat`) gets only what its chatbot may see, and only that chatbot's " +
      "conversations.",
    access: authenticated({ scopes: ["profile:read"], boundKeys: ["query", "chat"] }),
    request: { params: UserParams, query: ContextQuery },
    responses: {
      200: jsonResponse(UserContextSchema, "The context.", {
        // With `chatbot_id` (context_fields display_name and company) and `conversation_id`.
        example: {
          ...EXAMPLE_USER_CONTEXT,
          session_data: {
            ...EXAMPLE_USER_CONTEXT.session_data,
            last_seen_at: "2026-11-23T12:14:05.000Z",
          },
          conversation_context: [{
            id: "208eaff9-f954-4145-95e2-17987e306ce5",
            role: "user",
            content: "How do I reset my password?",
            model: null,
            status: "complete",
            created_at: "2026-11-23T12:12:00.000Z",
          }, {
            id: "648dc073-3304-4f07-b9ac-fea97047d9e8",
            role: "assistant",
            content: "Open Settings, then Security, and choose Reset password.",
            model: "echo-smart",
            status: "complete",
            created_at: "2026-11-23T12:12:01.000Z",
          }],
          consents: [{
            consent_id: EXAMPLE_IDS.consent,
            chatbot_id: EXAMPLE_IDS.chatbot,
            fields: ["display_name", "company"],
            granted_at: "2026-11-23T12:11:30.000Z",
          }],
          timestamp: "2026-11-23T12:15:00.000Z",
        },
      }),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const userId = c.req.valid("param").user_id;
    const query = c.req.valid("query");
    authorizeUserTarget(principal, userId, "manage");
    const chatbotId = query.chatbot_id ?? principal.chatbotId ?? null;
    const chatbot = chatbotId ? await findChatbot(sql, chatbotId, chatbotScopeOf(principal)) : null;
    if (chatbotId && !chatbot) throw ApiError.notFound("chatbot");
    const { context, requiresConsent } = await buildUserContext(sql, {
      userId,
      chatbot,
      conversationId: query.conversation_id ?? null,
      maxMessages: query.max_messages,
      principal,
    });
    return c.json(
      { ...context, ...(requiresConsent ? { requires_consent: requiresConsent } : {}) },
      200,
    );
  }),
];
