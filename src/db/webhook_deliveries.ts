import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRow {
  id: string;
  event_id: string;
  type: string;
  attempt: number;
  status: DeliveryStatus;
  response_status: number | null;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_error: string | null;
  created_at: Date;
}

/** A claimed attempt, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  attempt: number;
  event_id: string;
  webhook_id: string;
  body: string;
  url: string;
  secret_enc: string;
}

/**
 * Claims up to `limit` due deliveries of enabled endpoints for one attempt each.
 * `FOR UPDATE SKIP LOCKED` lets every instance claim at once without waiting on
 * or double-claiming each other's rows; the lease (next_attempt_at pushed past the
 * attempt's time limit) keeps the row from being claimed again while it is sent.
 * Should the sender die, the lease runs out and the next attempt is made.
 */
export async function claimDueDeliveries(
  sql: Db,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const rows = await sql<ClaimedDelivery[]>`
    with due as (
      select d.id from webhook_deliveries d
      join webhooks w on w.id = d.webhook_id
      where d.status = 'pending' and d.next_attempt_at <= now() and not w.disabled
      order by d.next_attempt_at
      limit ${limit}
      for update of d skip locked
    ), claimed as (
      update webhook_deliveries d
      set attempt = d.attempt + 1,
          next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}),
          last_attempt_at = now()
      from due where d.id = due.id
      returning d.id, d.attempt, d.event_id, d.webhook_id
    )
    select c.id, c.attempt, c.event_id, c.webhook_id, e.body, w.url, w.secret_enc
    from claimed c
    join webhook_events e on e.id = c.event_id
    join webhooks w on w.id = c.webhook_id`;
  return [...rows];
}

/**
 * Records how an attempt ended. Only the holder of that attempt may write it
 * (same attempt number, still pending); a deleted endpoint's row is gone and
 * nothing is written. `retryInMs` null ends the delivery.
 */
export async function recordAttempt(
  sql: Db,
  input: {
    id: string;
    attempt: number;
    delivered: boolean;
    responseStatus: number | null;
    error: string | null;
    retryInMs: number | null;
  },
): Promise<DeliveryStatus | null> {
  const status: DeliveryStatus = input.delivered
    ? "delivered"
    : input.retryInMs === null
    ? "failed"
    : "pending";
  const retrySeconds = input.retryInMs === null ? null : input.retryInMs / 1000;
  const [row] = await sql<{ status: DeliveryStatus }[]>`
    update webhook_deliveries
    set status = ${status},
        response_status = ${input.responseStatus},
        last_error = ${input.error},
        next_attempt_at = case when ${status} = 'pending'
          then now() + make_interval(secs => ${retrySeconds}::float8) else null end,
        finished_at = case when ${status} = 'pending' then null else now() end
    where id = ${input.id} and attempt = ${input.attempt} and status = 'pending'
    returning status`;
  return row?.status ?? null;
}

/** Gives a claimed attempt back (shutdown): due now, the attempt already counted. */
export async function releaseAttempt(sql: Db, id: string, attempt: number): Promise<void> {
  await sql`
    update webhook_deliveries set next_attempt_at = now(), last_error = 'interrupted by shutdown'
    where id = ${id} and attempt = ${attempt} and status = 'pending'`;
}

export async function listDeliveries(
  sql: Db,
  webhookId: string,
  page: Page,
): Promise<Paged<DeliveryRow>> {
  // Every delivery has its event (not null, cascading), so the join does not change the count.
  return await selectPage<DeliveryRow>(sql, {
    columns: sql`d.id, d.event_id, e.type, d.attempt, d.status, d.response_status,
                 d.next_attempt_at, d.last_attempt_at, d.last_error, d.created_at`,
    rows: sql`webhook_deliveries d join webhook_events e on e.id = d.event_id
              where d.webhook_id = ${webhookId}`,
    order: sql`d.created_at desc, d.id`,
  }, page);
}

/** When the next pending delivery of an enabled endpoint is due (for the worker's sleep). */
export async function nextDueAt(sql: Db): Promise<Date | null> {
  const [row] = await sql<{ at: Date | null }[]>`
    select min(d.next_attempt_at) as at from webhook_deliveries d
    join webhooks w on w.id = d.webhook_id
    where d.status = 'pending' and not w.disabled`;
  return row?.at ?? null;
}
