import type { Sql } from "./client.ts";
import { type Page, type Paged, selectPage } from "./page.ts";
import type { Db } from "./tx.ts";

/** Every action the audit log records (`listAuditEvents` filters by these names). */
export type AuditAction =
  | "auth.register"
  | "auth.login"
  | "auth.login_failed"
  | "auth.logout"
  | "auth.logout_all"
  | "auth.password_change"
  | "auth.refresh_reuse"
  | "api_key.create"
  | "api_key.roll"
  | "api_key.revoke"
  /** A key renamed, its budgets or (admin) its tier and overrides changed. */
  | "api_key.update"
  | "user.role_change"
  /** ADMIN_EMAIL or `deno task admin create` created an admin. */
  | "admin.bootstrap_created"
  | "user.disable"
  | "user.enable"
  | "user.tier_change"
  /** An admin set or cleared a user's USD budgets. */
  | "user.budget_change"
  | "user.delete"
  | "consent.grant"
  | "consent.deny"
  | "consent.revoke"
  | "webhook.create"
  | "webhook.enable"
  | "webhook.disable"
  | "webhook.delete"
  /** The system disabled an endpoint after repeated failed deliveries. */
  | "webhook.disabled";

/** Where the audited request came from (an http/request_meta.ts `RequestMeta` fits). */
export interface AuditMeta {
  ip: string | null;
  requestId: string | null;
}

/** Whom the event is about, who did it (null: the system or the subject erased), and what. */
export interface AuditSubject {
  userId?: string | null;
  actorId?: string | null;
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

/** Records one audit event, in the caller's transaction when given one. */
export async function audit(
  sql: Db,
  meta: AuditMeta,
  action: AuditAction,
  event: AuditSubject = {},
): Promise<void> {
  await sql`
    insert into audit_events (action, user_id, actor_id, ip, request_id, detail)
    values (${action}, ${event.userId ?? null}, ${event.actorId ?? null},
            ${meta.ip}, ${meta.requestId}, ${sql.json((event.detail ?? {}) as never)})`;
}

export async function listAuditEvents(
  sql: Sql,
  filter: { userId?: string; action?: string } & Page,
): Promise<Paged<AuditEventRow>> {
  const userId = filter.userId ?? null;
  const action = filter.action ?? null;
  return await selectPage<AuditEventRow>(sql, {
    columns: sql`id, occurred_at, action, user_id, actor_id, ip, request_id, detail`,
    rows: sql`audit_events
      where (${userId}::uuid is null or user_id = ${userId}::uuid)
        and (${action}::text is null or action = ${action}::text)`,
    order: sql`occurred_at desc, id`,
  }, filter);
}
