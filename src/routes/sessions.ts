/** Sessions of the caller's own login: logout, and listing or revoking sessions. */
import { z } from "@hono/zod-openapi";
import { audit } from "../db/audit.ts";
import { listActiveSessions } from "../db/sessions.ts";
import { ApiError } from "../errors.ts";
import { requestMeta } from "../http/request_meta.ts";
import { optionalJsonBody } from "./optional_body.ts";
import { jsonBody, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, Timestamp, uuid } from "./shared_schemas.ts";

const LogoutBody = z.object({
  all_sessions: z.boolean().optional().openapi({
    description: "Revoke every session of the user.",
  }),
}).openapi("LogoutRequest");

const SessionSchema = z.object({
  id: z.uuid().max(36),
  created_at: Timestamp,
  last_used_at: Timestamp,
  expires_at: Timestamp,
  user_agent: z.string().max(256).nullable(),
  ip: z.string().max(64).nullable(),
  current: z.boolean(),
}).openapi("Session");

const sessionAuth = authenticated({ jwtOnly: true });

export const sessionRoutes = [
  operation({
    method: "post",
    path: "/v1/auth/logout",
    operationId: "logout",
    tags: ["auth"],
    summary: "End this session (or all sessions)",
    description: "Needs the access token (not an API key). The body is optional: an empty POST " +
      'ends this session; `{"all_sessions": true}` ends every session of the user.',
    access: sessionAuth,
    request: { body: { ...jsonBody(LogoutBody, { all_sessions: false }), required: false } },
    responses: { 204: noContentResponse("Logged out.") },
    errors: [400, 413, 415, 422],
  }, async (c) => {
    const { sql, sessions } = c.get("services");
    const principal = c.get("principal");
    // The body is optional: an empty POST logs out this session.
    const allSessions = (await optionalJsonBody(c, LogoutBody))?.all_sessions ?? false;
    const meta = requestMeta(c);
    if (allSessions) {
      await sql.begin(async (tx) => {
        await sessions.revokeAllOfUser(tx, principal.userId, "logout_all");
        await audit(tx, meta, "auth.logout_all", {
          userId: principal.userId,
          actorId: principal.userId,
        });
      });
    } else {
      await sessions.revoke(principal.sessionId!, "logout");
      await audit(sql, meta, "auth.logout", {
        userId: principal.userId,
        actorId: principal.userId,
        detail: { session_id: principal.sessionId },
      });
    }
    return c.body(null, 204);
  }),

  operation({
    method: "get",
    path: "/v1/auth/sessions",
    operationId: "listSessions",
    tags: ["auth"],
    summary: "The caller's active sessions",
    description: "Needs the access token. Sessions not revoked, expired or idle, most recently " +
      "used first; `current` marks the one making this request.",
    access: sessionAuth,
    request: { query: PageQuery },
    responses: {
      200: pageResponse(SessionSchema, "SessionPage", "Sessions, most recently used first.", [{
        id: EXAMPLE_IDS.session,
        created_at: "2026-11-23T12:00:00.000Z",
        last_used_at: "2026-11-23T12:14:05.000Z",
        expires_at: "2026-12-23T12:00:00.000Z",
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ip: "198.51.100.7",
        current: true,
      }, {
        id: "c2a4e6f8-1b3d-4e5f-9a7b-8c0d2e4f6a81",
        created_at: "2026-11-20T08:30:00.000Z",
        last_used_at: "2026-11-22T17:45:12.000Z",
        expires_at: "2026-12-20T08:30:00.000Z",
        user_agent: "curl/8.11.1",
        ip: "203.0.113.24",
        current: false,
      }]),
    },
    errors: [400, 422],
  }, async (c) => {
    const { sql, config } = c.get("services");
    const principal = c.get("principal");
    const page = c.req.valid("query");
    const sessions = await listActiveSessions(
      sql,
      principal.userId,
      config.SESSION_IDLE_TTL_SECONDS,
      page,
    );
    return c.json(
      pageBody(page, sessions, (s) => ({
        id: s.id,
        created_at: s.created_at.toISOString(),
        last_used_at: s.last_used_at.toISOString(),
        expires_at: s.expires_at.toISOString(),
        user_agent: s.user_agent,
        ip: s.ip,
        current: s.id === principal.sessionId,
      })),
      200,
    );
  }),

  operation({
    method: "delete",
    path: "/v1/auth/sessions/{session_id}",
    operationId: "revokeSession",
    tags: ["auth"],
    summary: "Revoke one of the caller's sessions",
    description: "Needs the access token. Ends the session (its refresh token stops working; " +
      "access tokens stop within seconds); another user's session is 404.",
    access: sessionAuth,
    request: { params: z.object({ session_id: uuid("session_id") }) },
    responses: { 204: noContentResponse("Revoked.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sessions } = c.get("services");
    const principal = c.get("principal");
    const revoked = await sessions.revoke(
      c.req.valid("param").session_id,
      "revoked_by_user",
      principal.userId,
    );
    if (!revoked) throw ApiError.notFound("session");
    return c.body(null, 204);
  }),
];
