import type { Db } from "./tx.ts";

export interface NewWebhookEvent {
  id: string;
  type: string;
  /** The user the event is about (their endpoints and admins' all_users endpoints get it). */
  userId: string | null;
  /** The exact bytes every attempt sends. */
  body: string;
  /** Unique across instances: a second insert with the same key is a no-op. */
  dedupeKey: string | null;
  /** Only this endpoint (webhook.test); otherwise every subscribed endpoint. */
  webhookId?: string;
}

/**
 * Stores an event and queues one delivery per endpoint that should receive it,
 * in one statement. Returns false when the dedupe key was already taken.
 * Endpoints: the user's own, and `all_users` ones of owners who are admins now.
 */
export async function insertWebhookEvent(sql: Db, event: NewWebhookEvent): Promise<boolean> {
  const target = event.webhookId ?? null;
  const rows = await sql<{ id: string }[]>`
    with inserted as (
      insert into webhook_events (id, type, user_id, body, dedupe_key)
      values (${event.id}, ${event.type}, ${event.userId}, ${event.body}, ${event.dedupeKey})
      on conflict (dedupe_key) do nothing
      returning id, type, user_id
    ), queued as (
      insert into webhook_deliveries (event_id, webhook_id, next_attempt_at)
      select i.id, w.id, now()
      from inserted i
      join webhooks w on not w.disabled and (
        (${target}::uuid is not null and w.id = ${target}::uuid)
        or (${target}::uuid is null and i.type = any (w.events) and (
          w.user_id = i.user_id
          or (w.all_users and exists (
            select 1 from users u where u.id = w.user_id and u.role = 'admin' and not u.disabled))
        ))
      )
      returning id
    )
    select id from inserted`;
  return rows.length > 0;
}

/** Whether an event with this dedupe key exists (a cheap pre-check; the insert decides). */
export async function webhookEventExists(sql: Db, dedupeKey: string): Promise<boolean> {
  const rows = await sql`select 1 from webhook_events where dedupe_key = ${dedupeKey}`;
  return rows.length > 0;
}
