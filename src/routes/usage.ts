import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../http/env.ts";
import { requireAuth } from "../auth/middleware.ts";
import { CostUsd, Count } from "./chat_schemas.ts";
import { summarizeUsage } from "../db/usage.ts";
import { ApiError } from "../errors.ts";
import { actsAsAdmin } from "../auth/access.ts";
import { errorResponses, jsonResponse } from "./responses.ts";
import { anyCredential } from "./security.ts";

const DEFAULT_RANGE_DAYS = 30;
const MAX_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

const DateOrTime = (description: string) =>
  z.string().max(40).refine(
    (value) => /^\d{4}-\d{2}-\d{2}/.test(value) && !isNaN(Date.parse(value)),
    {
      message: "must be an ISO 8601 date or date-time",
    },
  ).optional().openapi({ description, example: "2026-11-01" });

const UsageQuery = z.object({
  from: DateOrTime(`Start (inclusive). Default: ${DEFAULT_RANGE_DAYS} days before \`to\`.`),
  to: DateOrTime(
    "End: a date includes that whole day (UTC); a date-time is exclusive. " +
      "Default: now.",
  ),
  group_by: z.enum(["day", "model", "api_key"]).default("day").openapi({
    description: "`day` (UTC, ascending), `model` or `api_key` (busiest first).",
  }),
  user_id: z.uuid().max(36).optional().openapi({
    description: "Admin only: another user's usage.",
  }),
});

const UsageRow = z.object({
  key: z.string().max(128).nullable().openapi({
    description: "The day (YYYY-MM-DD), model id or API key id; null for calls made with a " +
      "session token when grouping by `api_key`.",
    example: "2026-11-23",
  }),
  requests: Count(42),
  input_tokens: Count(5120),
  output_tokens: Count(2048),
  cost_usd: CostUsd,
}).openapi("UsageRow");

const UsageTotals = z.object({
  requests: Count(42),
  input_tokens: Count(5120),
  output_tokens: Count(2048),
  cost_usd: CostUsd,
}).openapi("UsageTotals", { description: "Sums over every row of the report." });

const UsageReport = z.object({
  items: z.array(UsageRow).max(MAX_RANGE_DAYS * 24),
  totals: UsageTotals,
  from: z.string().max(40).openapi({
    format: "date-time",
    description: "Start of the period covered (inclusive).",
    example: "2026-10-24T00:00:00.000Z",
  }),
  to: z.string().max(40).openapi({
    format: "date-time",
    description: "End of the period covered (exclusive).",
    example: "2026-11-24T00:00:00.000Z",
  }),
  group_by: z.enum(["day", "model", "api_key"]).openapi({ example: "day" }),
}).openapi("UsageReport");

const getUsageRoute = createRoute({
  method: "get",
  path: "/v1/usage",
  operationId: "getUsage",
  tags: ["usage"],
  summary: "Usage and cost, grouped by day, model or API key",
  description: "One request is one model call (quality mode makes several per query). " +
    `The range is at most ${MAX_RANGE_DAYS} days.`,
  security: anyCredential,
  middleware: [requireAuth({ scopes: ["usage:read"] })] as const,
  request: { query: UsageQuery },
  responses: {
    200: jsonResponse(UsageReport, "Usage rows, their totals and the period covered.", {
      limited: true,
      example: {
        items: [
          {
            key: "2026-11-22",
            requests: 3,
            input_tokens: 120,
            output_tokens: 310,
            cost_usd: 0.000136,
          },
          {
            key: "2026-11-23",
            requests: 2,
            input_tokens: 80,
            output_tokens: 95,
            cost_usd: 0.000046,
          },
        ],
        totals: { requests: 5, input_tokens: 200, output_tokens: 405, cost_usd: 0.000182 },
        from: "2026-10-24T12:00:00.000Z",
        to: "2026-11-23T12:00:00.000Z",
        group_by: "day",
      },
    }),
    ...errorResponses([400, 401, 403, 422, 429, 500], { limited: true }),
  },
});

/** `to` as an exclusive bound: a bare date means the end of that day. */
function rangeOf(query: { from?: string; to?: string }): { from: Date; to: Date } {
  const to = query.to
    ? new Date(Date.parse(query.to) + (DATE_ONLY.test(query.to) ? DAY_MS : 0))
    : new Date();
  const from = query.from
    ? new Date(query.from)
    : new Date(to.getTime() - DEFAULT_RANGE_DAYS * DAY_MS);
  const problem = from >= to
    ? "must be before `to`"
    : to.getTime() - from.getTime() > (MAX_RANGE_DAYS + 1) * DAY_MS
    ? `the range is at most ${MAX_RANGE_DAYS} days`
    : null;
  if (problem) {
    throw ApiError.invalid("from", problem);
  }
  return { from, to };
}

export function registerUsageRoutes(app: App): void {
  app.openapi(getUsageRoute, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    if (query.user_id && query.user_id !== principal.userId && !actsAsAdmin(principal)) {
      throw new ApiError("forbidden", "Only admins read another user's usage.");
    }
    const range = rangeOf(query);
    const { items, totals } = await summarizeUsage(c.get("services").sql, {
      userId: query.user_id ?? principal.userId,
      ...range,
      groupBy: query.group_by,
    });
    return c.json({
      items,
      totals,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      group_by: query.group_by,
    }, 200);
  });
}
