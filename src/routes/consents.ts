import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { answerConsent, type ConsentOwner, withdrawConsent } from "../context/consent_flow.ts";
import { type ConsentRow, listActiveConsents } from "../db/consents.ts";
import { requestMeta } from "../http/request_meta.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, Timestamp, uuid } from "./shared_schemas.ts";

const RespondBody = z.object({
  consent_request_id: z.uuid().max(36).openapi({
    description: "`requires_consent.consent_request_id` of a query or chat answer.",
  }),
  approved: z.boolean(),
}).openapi("ConsentResponseRequest");

const ConsentAnswerSchema = z.object({
  consent_request_id: z.uuid().max(36),
  status: z.enum(["approved", "denied"]),
  consent_token: z.string().max(64).optional().openapi({
    description: "A receipt of the grant, for the user's records: shown once, stored only as " +
      "a hash, so whether and when consent was given can be settled later by presenting it " +
      "(an operator matches its hash). No operation takes it and nothing needs it: the grant " +
      "applies by itself to the chatbot's next queries, until revokeConsent.",
  }),
  message: z.string().max(300),
}).openapi("ConsentAnswer");

const ConsentSchema = z.object({
  id: z.uuid().max(36),
  chatbot_id: z.uuid().max(36),
  consent_request_id: z.uuid().max(36).nullable(),
  fields: z.array(z.string().max(64)).max(50),
  granted_at: Timestamp,
}).openapi("Consent");

/** The caller's own consents; a chatbot-bound key reaches only its chatbot's. */
function consentOwner(c: Context<AppEnv>): ConsentOwner {
  const principal = c.get("principal");
  return { userId: principal.userId, chatbotId: principal.chatbotId ?? null };
}

function toConsent(row: ConsentRow) {
  return {
    id: row.id,
    chatbot_id: row.chatbot_id,
    consent_request_id: row.consent_request_id,
    fields: row.fields,
    granted_at: row.granted_at.toISOString(),
  };
}

export const consentRoutes = [
  operation({
    method: "post",
    path: "/v1/chat/consent",
    operationId: "respondToConsent",
    tags: ["chat"],
    summary: "Approve or deny a chatbot's request to use profile fields",
    description: "Approval stores a grant: later contexts of that chatbot include the fields. " +
      "A request already answered is 409. A consent decision needs the user's access token " +
      "(JWT): never an API key (403).",
    access: authenticated({ scopes: ["chat"], jwtOnly: true }),
    request: {
      body: jsonBody(RespondBody, {
        consent_request_id: "3f1c2a9e-8d7b-4c1e-9f3a-2b6d8e4c1a7f",
        approved: true,
      }),
    },
    responses: {
      200: jsonResponse(ConsentAnswerSchema, "The answer was recorded.", {
        example: {
          consent_request_id: EXAMPLE_IDS.consentRequest,
          status: "approved",
          consent_token: "ct_rxm7EEfVMzE2mtCDsLp6zNgUfK0OjI5IyZTVnjHRIcY",
          message: "Consent granted; revoke it any time with DELETE /v1/consents/{consent_id}.",
        },
      }),
    },
    errors: [400, 404, 409, 413, 415, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const body = c.req.valid("json");
    const meta = requestMeta(c);
    const answer = await answerConsent(sql, {
      requestId: body.consent_request_id,
      approved: body.approved,
      owner: consentOwner(c),
      audit: { ip: meta.ip, requestId: meta.requestId },
    });
    return c.json(answer, 200);
  }),

  operation({
    method: "get",
    path: "/v1/consents",
    operationId: "listConsents",
    tags: ["chat"],
    summary: "Your granted (unrevoked) consents",
    description: "A chatbot-bound key sees only its chatbot's consents.",
    access: authenticated(),
    request: { query: PageQuery },
    responses: {
      200: pageResponse(ConsentSchema, "ConsentPage", "Consents, newest first.", [{
        id: EXAMPLE_IDS.consent,
        chatbot_id: EXAMPLE_IDS.chatbot,
        consent_request_id: EXAMPLE_IDS.consentRequest,
        fields: ["display_name", "company"],
        granted_at: "2026-11-23T12:11:30.000Z",
      }]),
    },
    errors: [400, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const page = c.req.valid("query");
    return c.json(
      pageBody(page, await listActiveConsents(sql, { ...consentOwner(c), ...page }), toConsent),
      200,
    );
  }),

  operation({
    method: "delete",
    path: "/v1/consents/{consent_id}",
    operationId: "revokeConsent",
    tags: ["chat"],
    summary: "Revoke a consent",
    description: "Later contexts of that chatbot leave the fields out again.",
    access: authenticated(),
    request: { params: z.object({ consent_id: uuid("consent_id") }) },
    responses: { 204: noContentResponse("Revoked.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const meta = requestMeta(c);
    await withdrawConsent(sql, {
      consentId: c.req.valid("param").consent_id,
      owner: consentOwner(c),
      audit: { ip: meta.ip, requestId: meta.requestId },
    });
    return c.body(null, 204);
  }),
];
