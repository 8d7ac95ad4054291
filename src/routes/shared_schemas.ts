import { z } from "@hono/zod-openapi";
import type { UserRow } from "../db/users.ts";
import { MODEL_ID_MAX_LENGTH, MODEL_ID_PATTERN } from "../llm/mod.ts";
import { ROLES, SCOPES } from "../principal.ts";

/** Path/query ids: UUIDs, bounded for the OWASP ruleset. */
export const uuid = (name: string) =>
  z.uuid().max(36).openapi({
    param: { name, in: "path" },
    example: "3f1c2a9e-8d7b-4c1e-9f3a-2b6d8e4c1a7f",
  });

export const Timestamp = z.string().max(40).openapi({
  format: "date-time",
  example: "2026-11-23T12:00:00.000Z",
});

export const RoleSchema = z.enum(ROLES).openapi({ example: "user" });

export const ScopeSchema = z.enum(SCOPES);

/** Any id a configured model can have (llm/models.ts holds the rule); used by every route. */
export const ModelId = z.string().min(1).max(MODEL_ID_MAX_LENGTH).regex(MODEL_ID_PATTERN)
  .openapi({ example: "echo-fast" });

export const TierSchema = z.string().min(1).max(32).regex(/^[a-z0-9_-]+$/).openapi({
  example: "free",
});

/** A USD budget: > 0, at most 6 decimals (kept in micro-dollars). */
export const BudgetUsd = z.number().positive().max(1_000_000_000).refine(
  (v) => Math.abs(Math.round(v * 1e6) - v * 1e6) < 1e-6,
  "at most 6 decimals (micro-dollars)",
).openapi({ example: 5 });

export const UserSchema = z.object({
  id: z.uuid().max(36),
  email: z.string().max(254).openapi({ example: "ada@example.com" }),
  display_name: z.string().max(100).nullable().openapi({ example: "Ada" }),
  first_name: z.string().max(100).nullable(),
  last_name: z.string().max(100).nullable(),
  company: z.string().max(200).nullable(),
  job_title: z.string().max(200).nullable(),
  role: RoleSchema,
  tier: TierSchema,
  disabled: z.boolean(),
  budget_usd_per_day: BudgetUsd.nullable().openapi({
    description: "USD per UTC day across all of the user's credentials (admin-set).",
  }),
  budget_usd_per_month: BudgetUsd.nullable().openapi({
    description: "USD per UTC month across all of the user's credentials (admin-set).",
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("User");

/** A user as answers show it, for response examples. */
export const EXAMPLE_USER: z.infer<typeof UserSchema> = {
  id: "3f1c2a9e-8d7b-4c1e-9f3a-2b6d8e4c1a7f",
  email: "ada@example.com",
  display_name: "Ada",
  first_name: null,
  last_name: null,
  company: null,
  job_title: null,
  role: "user",
  tier: "free",
  disabled: false,
  budget_usd_per_day: null,
  budget_usd_per_month: null,
  created_at: "2026-11-23T12:00:00.000Z",
  updated_at: "2026-11-23T12:00:00.000Z",
};

/**
 * Ids shared by the response examples, so that one operation's example refers to
 * what another's shows (the chatbot a conversation belongs to, the key whoami names).
 */
export const EXAMPLE_IDS = {
  user: EXAMPLE_USER.id,
  session: "e6036c68-abec-4929-a87e-1063b3d5dcf8",
  apiKey: "9b2e7c41-5d3a-4f8e-a1c6-0e4d2b7f9a35",
  chatbot: "67d10063-2f9e-40c5-b3d8-513a6fcad57f",
  conversation: "b7e3f1a2-6c8d-4d9e-9f0a-1b2c3d4e5f60",
  qualityConversation: "d7bb00dc-eb43-4914-bcd4-bda07808de31",
  chatbotConversation: "5fddd67e-9c4a-449b-b5f4-dcf8f58e411d",
  consentRequest: "a7837cc5-8ff7-4e2e-b12a-fa126a39d51c",
  consent: "aa871da3-633e-46be-8b5a-ce2087ce6e5a",
  webhook: "075fabed-917d-4601-bf71-d11dd8575df0",
  webhookEvent: "0c2c78a3-e333-4bd1-a5f3-1bcfccc82ea5",
} as const;

export function toUser(row: UserRow): z.infer<typeof UserSchema> {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    first_name: row.first_name,
    last_name: row.last_name,
    company: row.company,
    job_title: row.job_title,
    role: row.role,
    tier: row.tier,
    disabled: row.disabled,
    budget_usd_per_day: row.budget_usd_per_day ?? null,
    budget_usd_per_month: row.budget_usd_per_month ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * An integer query parameter: "abc" or "1.5" says "expected an integer" (not
 * "received NaN"), and the default is written into the document, where the zod
 * default does not reach.
 */
export function intQuery(min: number, max: number, fallback: number) {
  const expected = { error: "expected an integer" };
  return z.coerce.number(expected).int(expected).min(min).max(max).default(fallback).openapi({
    type: "integer",
    format: "int32",
    minimum: min,
    maximum: max,
    default: fallback,
    example: fallback,
  });
}
