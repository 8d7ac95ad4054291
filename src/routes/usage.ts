import { z } from "@hono/zod-openapi";
import { CostUsd, Count } from "./chat_schemas.ts";
import { listUsageRecords, summarizeUsage } from "../db/usage.ts";
import { ApiError } from "../errors.ts";
import { userFilterOf } from "../auth/access.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { Timestamp } from "./shared_schemas.ts";

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

const QuotaItem = z.object({
  policy: z.enum(["tokens_per_day", "usd_per_day", "usd_per_month"]),
  scope: z.enum(["user", "api_key"]),
  unit: z.enum(["tokens", "usd"]),
  limit: z.number().min(0).max(1e15).openapi({ example: 200000 }),
  used: z.number().min(0).max(1e15).openapi({ example: 1520 }),
  reserved: z.number().min(0).max(1e15).openapi({
    description: "Held by model calls in flight (their worst case).",
    example: 1024,
  }),
  remaining: z.number().min(0).max(1e15).openapi({ example: 197456 }),
  period_start: z.number().int().min(0).max(1e11).openapi({
    format: "int64",
    description: "Unix seconds (UTC day or month start).",
    example: 1795996800,
  }),
  reset: z.number().int().min(0).max(1e11).openapi({
    format: "int64",
    description: "Unix seconds when the period ends.",
    example: 1796083200,
  }),
}).openapi("Quota");

const QuotasQuery = z.object({
  user_id: z.uuid().max(36).optional().openapi({
    description: "Admin only: another user's limits (others' ids are 404).",
  }),
});

const UsageRecord = z.object({
  id: z.uuid().max(36),
  occurred_at: Timestamp,
  model: z.string().max(128).openapi({ example: "echo-fast" }),
  api_key_id: z.uuid().max(36).nullable(),
  conversation_id: z.uuid().max(36).nullable(),
  input_tokens: Count(12),
  output_tokens: Count(30),
  cost_usd: CostUsd,
  usage_source: z.enum(["provider", "estimated"]).openapi({
    description: "`provider`: counts the provider reported; `estimated`: ceil(characters / 4) " +
      "of the prompt and of what was delivered (disconnect, failure, cut stream, crash).",
  }),
  status: z.enum(["pending", "complete", "incomplete", "error"]).openapi({
    description: "`pending`: the call is running now.",
  }),
}).openapi("UsageRecord");

const RecordsQuery = PageQuery.extend({
  from: DateOrTime(`Start (inclusive). Default: ${DEFAULT_RANGE_DAYS} days before \`to\`.`),
  to: DateOrTime("End: a date includes that whole day (UTC); a date-time is exclusive."),
  user_id: z.uuid().max(36).optional().openapi({
    description: "Admin only: another user's ledger (others' ids are 404).",
  }),
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

export const usageRoutes = [
  operation({
    method: "get",
    path: "/v1/usage/quotas",
    operationId: "getQuotas",
    tags: ["usage"],
    summary: "Token quotas and USD budgets that apply now, with what is used",
    description: "Every limit that applies to the caller: the tier's `tokens_per_day` (and " +
      "USD per day / month when set), the user's budgets, and with an API key that key's " +
      "budgets. USD amounts are exact to 6 decimals; `remaining` never goes below 0.",
    access: authenticated({ scopes: ["usage:read"] }),
    request: { query: QuotasQuery },
    responses: {
      200: jsonResponse(
        z.object({ items: z.array(QuotaItem).max(8) }).openapi("Quotas"),
        "The limits.",
        {
          example: {
            items: [{
              policy: "tokens_per_day",
              scope: "user",
              unit: "tokens",
              limit: 200000,
              used: 1520,
              reserved: 1024,
              remaining: 197456,
              period_start: 1795996800,
              reset: 1796083200,
            }, {
              policy: "usd_per_day",
              scope: "api_key",
              unit: "usd",
              limit: 2.5,
              used: 0.000165,
              reserved: 0,
              remaining: 2.499835,
              period_start: 1795996800,
              reset: 1796083200,
            }],
          },
        },
      ),
    },
    errors: [400, 404, 422, 503],
  }, async (c) => {
    const { spend } = c.get("services");
    const principal = c.get("principal");
    const userId = userFilterOf(principal, c.req.valid("query").user_id);
    // With a key: the user's limits and that key's; for another user: theirs only.
    const apiKeyId = userId === principal.userId ? principal.apiKeyId : undefined;
    let items;
    try {
      items = await spend.quotas(await spend.limitsOf({ userId, apiKeyId }));
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(
        "service_unavailable",
        "Spend limits cannot be read right now.",
        undefined,
        {
          cause: error,
        },
      );
    }
    return c.json({
      items: items.map(({ user_id: _u, api_key_id: _k, ...item }) => item),
    }, 200);
  }),

  operation({
    method: "get",
    path: "/v1/usage/records",
    operationId: "listUsageRecords",
    tags: ["usage"],
    summary: "The usage ledger: one row per model call",
    description: "Newest first, paged. Refused calls never reached a model and have no row.",
    access: authenticated({ scopes: ["usage:read"] }),
    request: { query: RecordsQuery },
    responses: {
      200: pageResponse(UsageRecord, "UsageRecordPage", "Ledger rows.", [{
        id: "0b9f7c1e-2f57-4b43-9d5f-8f4e3f8c6a10",
        occurred_at: "2026-11-23T12:03:02.000Z",
        model: "echo-smart",
        api_key_id: null,
        conversation_id: "57dc3377-070e-455f-b45f-82e3c7c2e69e",
        input_tokens: 5,
        output_tokens: 7,
        cost_usd: 0.000033,
        usage_source: "provider",
        status: "complete",
      }]),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const userId = userFilterOf(principal, query.user_id);
    const records = await listUsageRecords(c.get("services").sql, {
      userId,
      ...rangeOf(query),
      limit: query.limit,
      offset: query.offset,
    });
    return c.json(
      pageBody(query, records, (r) => ({ ...r, occurred_at: r.occurred_at.toISOString() })),
      200,
    );
  }),

  operation({
    method: "get",
    path: "/v1/usage",
    operationId: "getUsage",
    tags: ["usage"],
    summary: "Usage and cost, grouped by day, model or API key",
    description: "One request is one model call (quality mode makes several per query). " +
      `The range is at most ${MAX_RANGE_DAYS} days.`,
    access: authenticated({ scopes: ["usage:read"] }),
    request: { query: UsageQuery },
    responses: {
      200: jsonResponse(UsageReport, "Usage rows, their totals and the period covered.", {
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
    },
    errors: [400, 422],
  }, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const userId = userFilterOf(principal, query.user_id, "Only admins read another user's usage.");
    const range = rangeOf(query);
    const { items, totals } = await summarizeUsage(c.get("services").sql, {
      userId,
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
  }),
];
