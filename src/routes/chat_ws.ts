import { z } from "@hono/zod-openapi";
import type { App } from "../http/env.ts";
import {
  generateOpaqueToken,
  hashOpaqueToken,
  looksLikeOpaqueToken,
  WS_TICKET_PREFIX,
} from "../auth/opaque_token.ts";
import { ChatSocket } from "../chat/ws_session.ts";
import { consumeWsTicket, insertWsTicket } from "../db/ws_tickets.ts";
import { ApiError } from "../errors.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";

const TICKET_TTL_SECONDS = 30;

const WsTicketSchema = z.object({
  ticket: z.string().max(64).openapi({
    example: "wst_Jm3vQ0c9aXo1WJ7m0Yk2sQ5yVfR8tLpN4hB6dE1gZ3c",
    description: "Single use; pass it as `?ticket=` when opening the socket.",
  }),
  expires_in: z.number().int().min(1).max(TICKET_TTL_SECONDS).openapi({
    format: "int32",
    description: "Seconds until the ticket expires.",
    example: TICKET_TTL_SECONDS,
  }),
}).openapi("WsTicket");

export const chatSocketRoutes = [
  operation({
    method: "post",
    path: "/v1/chat/ws-ticket",
    operationId: "createWsTicket",
    tags: ["chat"],
    summary: "Get a ticket to open the chat WebSocket",
    description: [
      `Browsers cannot set headers on a WebSocket, so the socket is opened with a single-use ` +
      `ticket valid for ${TICKET_TTL_SECONDS} seconds: \`GET /v1/chat/ws?ticket=<ticket>\` ` +
      "with `Upgrade: websocket`. The socket acts as the caller who created the ticket.",
      "Refusals before the upgrade: 403 when the `Origin` header is present and not listed in " +
      "CORS_ORIGINS (clients that are not browsers, which send no Origin, are allowed: the " +
      "ticket is their credential); 400 without `Upgrade: websocket`; 401 for an unknown, used " +
      "or expired ticket, or one whose credential no longer stands (revoked, rolled away, " +
      "session ended); 403 for a disabled account or without the `chat` scope; 503 while the " +
      "server shuts down.",
      'Client messages (JSON text): `{type:"message", message, conversation_id?, chatbot_id?}`' +
      ' and `{type:"ping"}`. Server messages (JSON, each with `type`): `conversation_id` ' +
      "{conversation_id}, `consent_required` {consent_request_id, chatbot_id, fields, purpose}, " +
      "`chunk` {model, delta}, `done` (the sendChatMessage body), `error` {error, message}, " +
      "`pong`. `tool_calls` and `results` are reserved for tool use; no tools are configured, so " +
      "they are not sent.",
      "Each chat message passes the same gates as HTTP, against the credential's current state: " +
      "it must still be valid (else `error` unauthorized and close 1008), the per-caller rate " +
      "limit, the `chat` scope, role and chatbot binding as they are now, " +
      "MAX_PROMPT_CHARS and the concurrent-stream cap; one message is answered at a time per " +
      "socket. Pings are not rate-limited. The socket also re-checks its credential every few " +
      "seconds and closes with 1008 within 5 s once it is revoked, rolled away, ended, or its " +
      "role, scopes or binding change. A frame longer than MAX_PROMPT_CHARS + 4096 characters " +
      "closes the socket with 1009. On shutdown sockets close with 1001.",
    ].join("\n\n"),
    access: authenticated({ scopes: ["chat"] }),
    responses: {
      201: jsonResponse(WsTicketSchema, "The ticket.", {
        example: { ticket: "wst_zxBjtUnLb-bLB0lcwvQxkYI96wqyYN0TKqjSJn5XVE8", expires_in: 30 },
      }),
    },
    errors: [413, 415],
  }, async (c) => {
    const services = c.get("services");
    const ticket = generateOpaqueToken(WS_TICKET_PREFIX);
    // The socket re-checks this credential's current state, not a snapshot of it.
    const credential = await services.authenticator.credentialRef({
      authorization: c.req.header("authorization"),
      apiKeyHeader: c.req.header("x-api-key"),
    });
    await insertWsTicket(services.sql, {
      ticketHash: hashOpaqueToken(ticket),
      grant: { principal: c.get("principal"), credential },
      expiresAt: new Date(Date.now() + TICKET_TTL_SECONDS * 1000),
    });
    return c.json({ ticket, expires_in: TICKET_TTL_SECONDS }, 201);
  }),
];

/**
 * The chat socket itself: not an OpenAPI operation (OpenAPI cannot describe a socket), see
 * createWsTicket.
 */
export function registerChatSocket(app: App): void {
  app.get("/v1/chat/ws", async (c) => {
    const services = c.get("services");
    const origin = c.req.header("origin");
    if (origin !== undefined && !services.config.CORS_ORIGINS.includes(origin)) {
      throw new ApiError("forbidden", "This origin may not open chat sockets.");
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("bad_request", "Expected a WebSocket upgrade.");
    }
    if (services.lifecycle.draining) {
      throw new ApiError("service_unavailable", "The server is shutting down.");
    }
    const ticket = c.req.query("ticket");
    const grant = looksLikeOpaqueToken(ticket, WS_TICKET_PREFIX)
      ? await consumeWsTicket(services.sql, hashOpaqueToken(ticket))
      : null;
    if (!grant) throw new ApiError("unauthorized", "Invalid, used or expired ticket.");
    // The credential as it stands now (revoked, rolled away, ended: 401/403).
    const principal = await services.authenticator.resolve(grant.credential);
    if (!principal.scopes.includes("chat")) {
      throw new ApiError("forbidden", "Missing scope: chat.", { missing_scopes: ["chat"] });
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    new ChatSocket(
      services.chat,
      {
        resolve: (credential) => services.authenticator.resolve(credential),
        limit: (principal) => services.limits.principal(principal),
      },
      principal,
      grant.credential,
      socket,
    );
    return response;
  });
}
