import type { Db, Tx } from "./tx.ts";

export type UsageStatus = "complete" | "incomplete" | "error";
export type UsageGrouping = "day" | "model" | "api_key";

/** One model call, as accounted. */
export interface NewUsageRecord {
  userId: string;
  apiKeyId: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs: number;
  status: UsageStatus;
}

/** Usage rows of model calls that belong to no stored conversation, in one statement. */
export async function insertUsageRecords(sql: Db, records: NewUsageRecord[]): Promise<void> {
  if (records.length === 0) return;
  const rows = records.map((u) => ({
    user_id: u.userId,
    api_key_id: u.apiKeyId,
    model: u.model,
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cost_usd: u.costUsd,
    latency_ms: u.latencyMs,
    status: u.status,
  }));
  await sql`
    insert into usage_records (user_id, api_key_id, model, input_tokens, output_tokens,
                               cost_usd, latency_ms, status)
    select u.user_id, u.api_key_id, u.model, u.input_tokens, u.output_tokens, u.cost_usd,
           u.latency_ms, u.status
    from jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
      as u(user_id uuid, api_key_id uuid, model text, input_tokens integer,
           output_tokens integer, cost_usd numeric, latency_ms integer, status text)`;
}

export interface UsageSummaryRow {
  /** The day (YYYY-MM-DD, UTC), the model id, or the API key id (null: session calls). */
  key: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** A user's usage in [from, to), one row per group; days ascending, else busiest first. */
export async function summarizeUsage(
  sql: Db,
  filter: { userId: string; from: Date; to: Date; groupBy: UsageGrouping },
): Promise<{ items: UsageSummaryRow[]; totals: Omit<UsageSummaryRow, "key"> }> {
  const key = {
    day: sql`to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD')`,
    model: sql`model`,
    api_key: sql`api_key_id::text`,
  }[filter.groupBy];
  const order = filter.groupBy === "day" ? sql`key` : sql`requests desc, key`;
  // Sums come back as text (bigint, numeric) so no precision is lost on the way;
  // the empty grouping set adds the totals row in the same statement.
  const rows = await sql<
    {
      is_total: boolean;
      key: string | null;
      requests: number;
      input_tokens: string | null;
      output_tokens: string | null;
      cost_usd: string | null;
    }[]
  >`
    select grouping(key) = 1 as is_total, key, count(*)::int as requests,
           sum(input_tokens)::bigint::text as input_tokens,
           sum(output_tokens)::bigint::text as output_tokens,
           sum(cost_usd)::text as cost_usd
    from (
      select ${key} as key, input_tokens, output_tokens, cost_usd from usage_records
      where user_id = ${filter.userId} and occurred_at >= ${filter.from}
        and occurred_at < ${filter.to}
    ) u
    group by grouping sets ((key), ())
    order by is_total, ${order}`;
  const toRow = (r: (typeof rows)[number]) => ({
    key: r.key,
    requests: r.requests,
    input_tokens: Number(r.input_tokens ?? 0),
    output_tokens: Number(r.output_tokens ?? 0),
    cost_usd: Number(r.cost_usd ?? 0),
  });
  const total = rows.find((r) => r.is_total);
  const { key: _key, ...totals } = total
    ? toRow(total)
    : { key: null, requests: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
  return { items: rows.filter((r) => !r.is_total).map(toRow), totals };
}

/** Erasure: usage rows stay for accounting but no longer name the user or their keys. */
export async function anonymiseUsage(tx: Tx, userId: string): Promise<void> {
  await tx`
    update usage_records set user_id = null, api_key_id = null
    where user_id = ${userId}`;
}
