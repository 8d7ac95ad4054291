import { z } from "@hono/zod-openapi";
import { databaseStatus } from "../db/admin_status.ts";
import { type AuditEventRow, listAuditEvents } from "../db/audit.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, Timestamp } from "./shared_schemas.ts";

const RowCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({
  format: "int64",
  example: 42,
});

const DbStatusSchema = z.object({
  database: z.object({
    version: z.string().max(512).openapi({ example: "PostgreSQL 16.4 on x86_64-pc-linux-gnu" }),
  }),
  tables: z.array(z.object({
    name: z.string().max(63).openapi({ example: "users" }),
    rows: RowCount,
  })).max(500),
  migrations: z.array(z.object({
    version: z.string().max(128).openapi({ example: "0001_init" }),
    applied_at: Timestamp,
  })).max(10_000),
}).openapi("DbStatus");

const AuditEventSchema = z.object({
  id: z.uuid().max(36),
  occurred_at: Timestamp,
  action: z.string().max(64).openapi({ example: "user.role_change" }),
  user_id: z.uuid().max(36).nullable().openapi({ description: "Whom the event is about." }),
  actor_id: z.uuid().max(36).nullable().openapi({ description: "Who did it." }),
  ip: z.string().max(64).nullable(),
  request_id: z.string().max(128).nullable(),
  detail: z.record(z.string().max(64), z.unknown()).openapi({
    description: "Event-specific facts; never secrets.",
    maxProperties: 50,
    example: { from: "user", to: "moderator" },
  }),
}).openapi("AuditEvent");

const AuditQuery = PageQuery.extend({
  user_id: z.uuid().max(36).optional().openapi({ description: "Events about this user." }),
  action: z.string().min(1).max(64).regex(/^[a-z0-9_.]+$/).optional().openapi({
    example: "auth.login_failed",
  }),
});

const adminOnly = authenticated({ minRole: "admin", scopes: ["admin"] });

function toAuditEvent(row: AuditEventRow) {
  return { ...row, occurred_at: row.occurred_at.toISOString() };
}

export const adminRoutes = [
  operation({
    method: "get",
    path: "/v1/admin/db-status",
    operationId: "getDbStatus",
    tags: ["admin"],
    summary: "Row counts per table, applied migrations and the database version (admin)",
    description: "Exact counts of every table in the service's schema.",
    access: adminOnly,
    responses: {
      200: jsonResponse(DbStatusSchema, "The database status.", {
        example: {
          database: {
            version: "PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit",
          },
          tables: [
            { name: "api_keys", rows: 57 },
            { name: "audit_events", rows: 18_342 },
            { name: "chatbots", rows: 12 },
            { name: "conversations", rows: 4_210 },
            { name: "messages", rows: 19_877 },
            { name: "sessions", rows: 389 },
            { name: "usage_records", rows: 26_504 },
            { name: "users", rows: 214 },
          ],
          migrations: [
            { version: "0001_init", applied_at: "2026-09-01T08:00:00.000Z" },
            { version: "0002_auth", applied_at: "2026-09-01T08:00:00.000Z" },
            { version: "0010_webhooks", applied_at: "2026-11-02T07:30:00.000Z" },
          ],
        },
      }),
    },
  }, async (c) => {
    const status = await databaseStatus(c.get("services").sql);
    return c.json({
      database: { version: status.version },
      tables: status.tables,
      migrations: status.migrations.map((m) => ({
        version: m.version,
        applied_at: m.applied_at.toISOString(),
      })),
    }, 200);
  }),

  operation({
    method: "get",
    path: "/v1/admin/audit-log",
    operationId: "listAuditEvents",
    tags: ["admin"],
    summary: "Security events, newest first (admin)",
    description: "Logins and failures, key create/revoke/roll, role changes, refresh reuse, " +
      "consent changes, erasures. Filter by `user_id` and `action`.",
    access: adminOnly,
    request: { query: AuditQuery },
    responses: {
      200: pageResponse(AuditEventSchema, "AuditEventPage", "Events.", [{
        id: "f5553736-1df2-4295-b6b3-27a1bbb8898c",
        occurred_at: "2026-11-23T12:40:00.000Z",
        action: "user.role_change",
        user_id: "8e2f4a6c-1d3b-4f5e-a7c9-0b2d4f6a8c13",
        actor_id: EXAMPLE_IDS.user,
        ip: "198.51.100.7",
        request_id: "a36cdaf7-b314-4a21-9ce4-72f986e2411d",
        detail: { from: "user", to: "moderator" },
      }, {
        id: "5a0cedbb-08ac-4923-90e7-9c93f4059c52",
        occurred_at: "2026-11-23T12:02:11.000Z",
        action: "auth.login_failed",
        user_id: EXAMPLE_IDS.user,
        actor_id: null,
        ip: "203.0.113.99",
        request_id: "8a01b970-97ac-4311-9461-21d39f4ac309",
        detail: {},
      }]),
    },
    errors: [400, 422],
  }, async (c) => {
    const query = c.req.valid("query");
    return c.json(
      pageBody(
        query,
        await listAuditEvents(c.get("services").sql, {
          userId: query.user_id,
          action: query.action,
          limit: query.limit,
          offset: query.offset,
        }),
        toAuditEvent,
      ),
      200,
    );
  }),
];
