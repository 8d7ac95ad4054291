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

/** `limit` (1..100, default 20) and `offset` (default 0) on every list. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({
    type: "integer",
    format: "int32",
    minimum: 1,
    maximum: 100,
    example: 20,
  }),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0).openapi({
    type: "integer",
    format: "int32",
    minimum: 0,
    maximum: 1_000_000,
    example: 0,
  }),
});

const PageCount = z.number().int().min(0).max(2_147_483_647).openapi({ format: "int32" });

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    items: z.array(item).max(100),
    limit: PageCount,
    offset: PageCount,
    total: PageCount,
  }).openapi(name);
}
