import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db, Tx } from "./tx.ts";

export type UsageStatus = "complete" | "incomplete" | "error";
export type UsageSource = "provider" | "estimated";
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

/** A model call reserved and about to go upstream: its row exists from now on. */
export async function insertPendingUsage(
  sql: Db,
  row: {
    id: string;
    userId: string;
    apiKeyId: string | null;
    model: string;
    promptTokensEstimate: number;
    conversationId: string | null;
    occurredAt: Date;
  },
): Promise<void> {
  await sql`
    insert into usage_records (id, occurred_at, user_id, api_key_id, model, input_tokens,
                               output_tokens, cost_usd, latency_ms, status, usage_source,
                               prompt_tokens_estimate, pending_conversation_id)
    values (${row.id}, ${row.occurredAt}, ${row.userId}, ${row.apiKeyId}, ${row.model}, 0, 0, 0,
            0, 'pending', 'estimated', ${row.promptTokensEstimate}, ${row.conversationId})`;
}

/**
 * The call's real usage. Linked to its conversation when that exists by now
 * (the turn is written after the reservation, and may have been deleted since).
 * Only a pending row is settled, so a crash sweep and a late settle cannot both bill.
 */
export async function settleUsage(
  sql: Db,
  id: string,
  outcome: {
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    latencyMs: number;
    status: UsageStatus;
    source: UsageSource;
  },
): Promise<boolean> {
  const rows = await sql`
    update usage_records u set
      input_tokens = ${outcome.inputTokens}, output_tokens = ${outcome.outputTokens},
      cost_usd = ${outcome.costUsd}, latency_ms = ${outcome.latencyMs},
      status = ${outcome.status}, usage_source = ${outcome.source},
      conversation_id = (select c.id from conversations c where c.id = u.pending_conversation_id),
      pending_conversation_id = null
    where u.id = ${id} and u.status = 'pending'
    returning 1`;
  return rows.length > 0;
}

export interface StalePendingUsage {
  id: string;
  user_id: string | null;
  api_key_id: string | null;
  model: string;
  prompt_tokens_estimate: number;
  occurred_at: Date;
}

/** Calls left pending (a crash between reservation and settlement) before `cutoff`. */
export async function stalePendingUsage(sql: Db, cutoff: Date): Promise<StalePendingUsage[]> {
  const rows = await sql<StalePendingUsage[]>`
    select id, user_id, api_key_id, model, prompt_tokens_estimate, occurred_at
    from usage_records where status = 'pending' and occurred_at < ${cutoff}
    order by occurred_at limit 10000`;
  return [...rows];
}

/** Settled spend in the current periods, to rebuild the limiter's counters. */
export interface SpendTotals {
  userTokensDay: number;
  userMicroUsdDay: number;
  userMicroUsdMonth: number;
  keyMicroUsdDay: number;
  keyMicroUsdMonth: number;
}

export async function spendTotals(
  sql: Db,
  filter: { userId: string; apiKeyId: string | null; dayStart: Date; monthStart: Date },
): Promise<SpendTotals> {
  // Micro-dollars and token sums as text: no precision lost on the way.
  const [row] = await sql<Record<keyof SpendTotals, string>[]>`
    select
      coalesce(sum(input_tokens + output_tokens) filter (where occurred_at >= ${filter.dayStart}), 0)::bigint::text as "userTokensDay",
      coalesce(round(sum(cost_usd) filter (where occurred_at >= ${filter.dayStart}) * 1000000), 0)::bigint::text as "userMicroUsdDay",
      coalesce(round(sum(cost_usd) * 1000000), 0)::bigint::text as "userMicroUsdMonth",
      coalesce(round(sum(cost_usd) filter (where occurred_at >= ${filter.dayStart} and api_key_id = ${filter.apiKeyId}::uuid) * 1000000), 0)::bigint::text as "keyMicroUsdDay",
      coalesce(round(sum(cost_usd) filter (where api_key_id = ${filter.apiKeyId}::uuid) * 1000000), 0)::bigint::text as "keyMicroUsdMonth"
    from usage_records
    where user_id = ${filter.userId} and occurred_at >= ${filter.monthStart}
      and status <> 'pending'`;
  return {
    userTokensDay: Number(row?.userTokensDay ?? 0),
    userMicroUsdDay: Number(row?.userMicroUsdDay ?? 0),
    userMicroUsdMonth: Number(row?.userMicroUsdMonth ?? 0),
    keyMicroUsdDay: Number(row?.keyMicroUsdDay ?? 0),
    keyMicroUsdMonth: Number(row?.keyMicroUsdMonth ?? 0),
  };
}

export interface UsageRecordRow {
  id: string;
  occurred_at: Date;
  model: string;
  api_key_id: string | null;
  conversation_id: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  usage_source: UsageSource;
  status: UsageStatus | "pending";
}

/** The ledger of one user in [from, to), newest first. */
export async function listUsageRecords(
  sql: Db,
  filter: { userId: string; from: Date; to: Date } & Page,
): Promise<Paged<UsageRecordRow>> {
  const { items, total } = await selectPage<
    Omit<UsageRecordRow, "cost_usd"> & { cost_usd: string }
  >(sql, {
    columns: sql`id, occurred_at, model, api_key_id,
      coalesce(conversation_id, pending_conversation_id) as conversation_id, input_tokens,
      output_tokens, cost_usd::text as cost_usd, usage_source, status`,
    rows: sql`usage_records
      where user_id = ${filter.userId} and occurred_at >= ${filter.from}
        and occurred_at < ${filter.to}`,
    order: sql`occurred_at desc, id`,
  }, filter);
  return { items: items.map((r) => ({ ...r, cost_usd: Number(r.cost_usd) })), total };
}
