import type { Sql } from "./client.ts";
import type { Db } from "./tx.ts";

export interface AuditEventInput {
  action: string;
  userId?: string | null;
  actorId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditEventRow {
  id: string;
  occurred_at: Date;
  action: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

export async function recordAuditEvent(sql: Db, event: AuditEventInput): Promise<void> {
  await sql`
    insert into audit_events (action, user_id, actor_id, ip, request_id, detail)
    values (${event.action}, ${event.userId ?? null}, ${event.actorId ?? null},
            ${event.ip ?? null}, ${event.requestId ?? null}, ${
    sql.json((event.detail ?? {}) as never)
  })`;
}

export async function listAuditEvents(
  sql: Sql,
  filter: { userId?: string; action?: string; limit: number; offset: number },
): Promise<{ items: AuditEventRow[]; total: number }> {
  const userId = filter.userId ?? null;
  const action = filter.action ?? null;
  const where = sql`
    where (${userId}::uuid is null or user_id = ${userId}::uuid)
      and (${action}::text is null or action = ${action}::text)`;
  const items = await sql<AuditEventRow[]>`
    select id, occurred_at, action, user_id, actor_id, ip, request_id, detail
    from audit_events ${where}
    order by occurred_at desc, id
    limit ${filter.limit} offset ${filter.offset}`;
  const [count] = await sql<
    { total: number }[]
  >`select count(*)::int as total from audit_events ${where}`;
  return { items: [...items], total: count?.total ?? 0 };
}
