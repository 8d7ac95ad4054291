import { z } from "@hono/zod-openapi";
import { MAX_CONTEXT_MESSAGES } from "../context/user_context.ts";
import { EXAMPLE_IDS, Timestamp } from "./shared_schemas.ts";

/**
 * Response schemas of the user context, shared by getUserContext and the
 * query/chat answers that embed `user_context` and `requires_consent`.
 */

const FieldName = z.string().max(64).openapi({ example: "company" });

const FreeFormObject = (description: string) =>
  z.record(z.string().max(64), z.unknown()).openapi({
    description,
    maxProperties: 60,
    example: { email: "ada@example.com", company: "Analytical Engines" },
  });

export const ConsentRequirementSchema = z.object({
  consent_request_id: z.uuid().max(36),
  chatbot_id: z.uuid().max(36),
  fields: z.array(FieldName).max(50),
  purpose: z.string().max(4000).openapi({
    example: 'The chatbot "Support" asks to use your company to personalise its answers.',
  }),
}).openapi("ConsentRequirement", {
  description: "Fields left out until the user answers the request via respondToConsent.",
});

const SessionDataSchema = z.object({
  device: z.enum(["desktop", "mobile", "tablet", "program"]).nullable(),
  user_agent: z.string().max(256).nullable(),
  last_seen_at: Timestamp,
  session_started_at: Timestamp,
}).openapi("SessionData", { description: "From the user's most recently used session." });

const ContextMessageSchema = z.object({
  id: z.uuid().max(36),
  role: z.enum(["user", "assistant", "system"]),
  content: z.string().max(1_000_000),
  model: z.string().max(100).nullable(),
  status: z.enum(["pending", "complete", "incomplete", "error"]),
  created_at: Timestamp,
}).openapi("ContextMessage");

const GrantedConsentSchema = z.object({
  consent_id: z.uuid().max(36),
  chatbot_id: z.uuid().max(36),
  fields: z.array(FieldName).max(50),
  granted_at: Timestamp,
}).openapi("GrantedConsent");

export const UserContextSchema = z.object({
  user_id: z.uuid().max(36),
  user_profile: FreeFormObject(
    "The user's own fields (email, names, company, job_title) merged with `details.profile` " +
      "keys and `profile_data`; with a chatbot, only its consented `context_fields`. " +
      "The account fields win: where one is set, a `details.profile` key of the same name " +
      "(e.g. `email`, `company`) is replaced by the account's value.",
  ),
  preferences: FreeFormObject("`details.preferences`, filtered like `user_profile`."),
  session_data: SessionDataSchema.nullable(),
  conversation_context: z.array(ContextMessageSchema).max(MAX_CONTEXT_MESSAGES).openapi({
    description: "The last `max_messages` messages of `conversation_id`, oldest first.",
  }),
  consents: z.array(GrantedConsentSchema).max(100),
  timestamp: Timestamp,
  requires_consent: ConsentRequirementSchema.optional(),
}).openapi("UserContext");

/** Ada's context as the support chatbot of the examples sees it, before any conversation. */
export const EXAMPLE_USER_CONTEXT = {
  user_id: EXAMPLE_IDS.user,
  user_profile: { display_name: "Ada", company: "Analytical Engines" },
  preferences: {},
  session_data: {
    device: "desktop",
    user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    last_seen_at: "2026-11-23T12:11:58.000Z",
    session_started_at: "2026-11-23T12:00:00.000Z",
  },
  conversation_context: [],
  consents: [],
  timestamp: "2026-11-23T12:12:00.000Z",
} satisfies z.output<typeof UserContextSchema>;
