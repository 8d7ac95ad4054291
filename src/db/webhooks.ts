import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

export interface WebhookRow {
  id: string;
  user_id: string;
  url: string;
  events: string[];
  description: string | null;
  all_users: boolean;
  disabled: boolean;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const columns = (sql: Db) =>
  sql`id, user_id, url, events, description, all_users, disabled, disabled_at, created_at,
      updated_at`;

/** Inserts unless the user already has `max` endpoints (checked under a lock on the user). */
export async function insertWebhook(
  sql: Db,
  input: {
    id: string;
    userId: string;
    url: string;
    events: string[];
    description: string | null;
    allUsers: boolean;
    secretEnc: string;
    max: number;
  },
): Promise<WebhookRow | null> {
  await sql`select id from users where id = ${input.userId} for update`;
  const [count] = await sql<{ n: number }[]>`
    select count(*)::int as n from webhooks where user_id = ${input.userId}`;
  if ((count?.n ?? 0) >= input.max) return null;
  const [row] = await sql<WebhookRow[]>`
    insert into webhooks (id, user_id, url, events, description, all_users, secret_enc)
    values (${input.id}, ${input.userId}, ${input.url}, ${input.events}, ${input.description},
            ${input.allUsers}, ${input.secretEnc})
    returning ${columns(sql)}`;
  return row!;
}

/** One endpoint; `ownerId` null reaches anyone's (admins). */
export async function findWebhook(
  sql: Db,
  id: string,
  ownerId: string | null,
): Promise<WebhookRow | null> {
  const [row] = await sql<WebhookRow[]>`
    select ${columns(sql)} from webhooks
    where id = ${id} and (${ownerId}::uuid is null or user_id = ${ownerId}::uuid)`;
  return row ?? null;
}

export async function listWebhooks(
  sql: Db,
  userId: string,
  page: Page,
): Promise<Paged<WebhookRow>> {
  return await selectPage<WebhookRow>(sql, {
    columns: columns(sql),
    rows: sql`webhooks where user_id = ${userId}`,
    order: sql`created_at desc, id`,
  }, page);
}

export async function updateWebhook(
  sql: Db,
  id: string,
  patch: { url?: string; events?: string[]; description?: string | null; disabled?: boolean },
): Promise<WebhookRow | null> {
  const url = patch.url ?? null;
  const events = patch.events ?? null;
  const hasDescription = patch.description !== undefined;
  const description = patch.description ?? null;
  const disabled = patch.disabled ?? null;
  const [row] = await sql<WebhookRow[]>`
    update webhooks set
      url = coalesce(${url}::text, url),
      events = coalesce(${events}::text[], events),
      description = case when ${hasDescription} then ${description}::text else description end,
      disabled = coalesce(${disabled}::boolean, disabled),
      disabled_at = case
        when ${disabled}::boolean is true and not disabled then now()
        when ${disabled}::boolean is false then null
        else disabled_at end,
      -- Re-enabling forgets the failures that disabled it.
      enabled_at = case when ${disabled}::boolean is false and disabled then now() else enabled_at end,
      updated_at = now()
    where id = ${id}
    returning ${columns(sql)}`;
  return row ?? null;
}

/** Deleting an endpoint deletes its deliveries with it, which cancels the pending ones. */
export async function deleteWebhook(sql: Db, id: string): Promise<boolean> {
  const rows = await sql`delete from webhooks where id = ${id} returning id`;
  return rows.length > 0;
}

export async function webhookSecret(sql: Db, id: string): Promise<string | null> {
  const [row] = await sql<{ secret_enc: string }[]>`
    select secret_enc from webhooks where id = ${id}`;
  return row?.secret_enc ?? null;
}

export async function replaceWebhookSecret(sql: Db, id: string, secretEnc: string): Promise<void> {
  await sql`update webhooks set secret_enc = ${secretEnc} where id = ${id}`;
}

/**
 * Disables the endpoint when its last `count` deliveries that ended (since it was
 * last enabled) all failed. Returns the owner when this call disabled it.
 */
export async function disableIfFailing(
  sql: Db,
  id: string,
  count: number,
): Promise<{ user_id: string } | null> {
  const [row] = await sql<{ user_id: string }[]>`
    update webhooks w set disabled = true, disabled_at = now(), updated_at = now()
    where w.id = ${id} and not w.disabled
      and (
        select count(*) filter (where recent.status = 'failed') from (
          select d.status from webhook_deliveries d
          where d.webhook_id = w.id and d.finished_at is not null and d.finished_at >= w.enabled_at
          order by d.finished_at desc limit ${count}
        ) recent
      ) >= ${count}
    returning w.user_id`;
  return row ?? null;
}
