import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { audit } from "../db/audit.ts";
import { type DeliveryRow, listDeliveries } from "../db/webhook_deliveries.ts";
import {
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listWebhooks,
  updateWebhook,
  type WebhookRow,
} from "../db/webhooks.ts";
import type { AppEnv } from "../http/env.ts";
import { ApiError } from "../errors.ts";
import {
  DestinationRefused,
  generateWebhookSecret,
  WEBHOOK_EVENT_TYPES,
  type Webhooks,
} from "../webhooks/mod.ts";
import { actsAsAdmin, ownerFilterOf, userFilterOf } from "../auth/access.ts";
import { requestMeta } from "../http/request_meta.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import { EXAMPLE_IDS, Timestamp, uuid } from "./shared_schemas.ts";

/** At most this many endpoints per user. */
export const MAX_WEBHOOKS_PER_USER = 20;

const cleanText = (text: string) => text.isWellFormed() && !text.includes("\u0000");
const noControlText = { message: "must not contain U+0000 or lone surrogates" };

const EventType = z.enum(WEBHOOK_EVENT_TYPES).openapi({ example: "quota.threshold" });
const Events = z.array(EventType).min(1).max(WEBHOOK_EVENT_TYPES.length * 4)
  .transform((events) => [...new Set(events)])
  .openapi({
    description: "Event types to receive; duplicates are collapsed.",
    example: ["quota.threshold", "security.refresh_reuse"],
  });
const Url = z.string().min(1).max(2048).refine(cleanText, noControlText).openapi({
  format: "uri",
  example: "https://hooks.example.com/gatehouse",
  description:
    "https only (unless WEBHOOK_ALLOW_HTTP); no credentials; the host must resolve to public addresses.",
});
const Description = z.string().max(500).refine(cleanText, noControlText).openapi({
  example: "Budget alerts to the ops channel",
});

const WebhookSchema = z.object({
  id: z.uuid().max(36),
  user_id: z.uuid().max(36),
  url: z.string().max(2048).openapi({ example: "https://hooks.example.com/gatehouse" }),
  events: z.array(EventType).max(WEBHOOK_EVENT_TYPES.length),
  description: z.string().max(500).nullable(),
  all_users: z.boolean().openapi({
    description: "An admin's endpoint that receives events about every user.",
  }),
  disabled: z.boolean().openapi({
    description: "Disabled by its owner, or after its last 20 deliveries failed.",
  }),
  disabled_at: Timestamp.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Webhook");

const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().max(64).openapi({
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3s8H1p5FoRc=",
    description: "Signing secret (`whsec_` + base64 of 32 bytes). Shown only in this response.",
  }),
}).openapi("CreatedWebhook");

/** The endpoint createWebhook's request example makes. */
const EXAMPLE_WEBHOOK: z.output<typeof WebhookSchema> = {
  id: EXAMPLE_IDS.webhook,
  user_id: EXAMPLE_IDS.user,
  url: "https://hooks.example.com/gatehouse",
  events: ["quota.threshold", "security.login_locked"],
  description: "Alerts for the ops channel",
  all_users: false,
  disabled: false,
  disabled_at: null,
  created_at: "2026-11-23T12:30:00.000Z",
  updated_at: "2026-11-23T12:30:00.000Z",
};

/** The same endpoint after updateWebhook's request example. */
const EXAMPLE_UPDATED_WEBHOOK: z.output<typeof WebhookSchema> = {
  ...EXAMPLE_WEBHOOK,
  events: ["quota.threshold"],
  updated_at: "2026-11-23T12:31:00.000Z",
};

const CreateBody = z.object({
  url: Url,
  events: Events,
  description: Description.optional(),
  all_users: z.boolean().optional().openapi({ description: "Admin only." }),
}).openapi("CreateWebhookRequest");

const UpdateBody = z.object({
  url: Url.optional(),
  events: Events.optional(),
  description: Description.nullable().optional().openapi({ description: "null clears it." }),
  disabled: z.boolean().optional().openapi({
    description: "`false` re-enables a disabled endpoint (its failure count starts afresh).",
  }),
}).openapi("UpdateWebhookRequest");

const DeliverySchema = z.object({
  id: z.uuid().max(36),
  event_id: z.uuid().max(36).openapi({ description: "The `webhook-id` header of every attempt." }),
  type: EventType,
  attempt: z.number().int().min(0).max(1000).openapi({
    format: "int32",
    description: "Attempts made so far.",
  }),
  status: z.enum(["pending", "delivered", "failed"]),
  response_status: z.number().int().min(100).max(599).nullable().openapi({
    format: "int32",
    description: "HTTP status of the last answer; null when none came.",
  }),
  next_attempt_at: Timestamp.nullable(),
  last_attempt_at: Timestamp.nullable(),
  created_at: Timestamp,
}).openapi("WebhookDelivery");

const TestAccepted = z.object({
  event_id: z.uuid().max(36).openapi({ description: "The `webhook-id` the delivery carries." }),
}).openapi("WebhookTestAccepted");

const ListQuery = PageQuery.extend({
  user_id: z.uuid().max(36).optional().openapi({
    description: "Admin only: another user's endpoints.",
  }),
});

const Params = z.object({ webhook_id: uuid("webhook_id") });
const tags = ["webhooks"];

function toWebhook(row: WebhookRow): z.infer<typeof WebhookSchema> {
  return {
    id: row.id,
    user_id: row.user_id,
    url: row.url,
    events: row.events as z.infer<typeof EventType>[],
    description: row.description,
    all_users: row.all_users,
    disabled: row.disabled,
    disabled_at: row.disabled_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function toDelivery(row: DeliveryRow): z.infer<typeof DeliverySchema> {
  return {
    id: row.id,
    event_id: row.event_id,
    type: row.type as z.infer<typeof EventType>,
    attempt: row.attempt,
    status: row.status,
    response_status: row.response_status,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    last_attempt_at: row.last_attempt_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** A URL the service will not send to is a 422 naming `url`. */
async function checkDestination(webhooks: Webhooks, url: string): Promise<void> {
  try {
    await webhooks.checkDestination(url);
  } catch (error) {
    if (!(error instanceof DestinationRefused)) throw error;
    throw new ApiError("validation_error", "This URL is not an allowed webhook destination.", {
      issues: [{ path: ["url"], message: error.message }],
    });
  }
}

/** The endpoint if the caller owns it or acts as admin; otherwise it looks missing. */
async function ownedWebhook(c: Context<AppEnv>, id: string): Promise<WebhookRow> {
  const row = await findWebhook(c.get("services").sql, id, ownerFilterOf(c.get("principal")));
  if (!row) throw ApiError.notFound("webhook");
  return row;
}

export const webhookRoutes = [
  operation({
    method: "post",
    path: "/v1/webhooks",
    operationId: "createWebhook",
    tags,
    summary: "Create a webhook endpoint (the secret is shown once)",
    description:
      "Subscribes a URL to events. The URL must be https (unless the operator allows http) and its host must resolve only to public addresses; refused URLs are a 422. At most 20 endpoints per user (409 beyond). `all_users` (admin only) receives events about every user.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: {
      body: jsonBody(CreateBody, {
        url: "https://hooks.example.com/gatehouse",
        events: ["quota.threshold", "security.login_locked"],
        description: "Alerts for the ops channel",
      }),
    },
    responses: {
      201: jsonResponse(CreatedWebhookSchema, "Created; `secret` is shown only here.", {
        example: {
          ...EXAMPLE_WEBHOOK,
          secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3s8H1p5FoRc=",
        },
      }),
    },
    errors: [400, 409, 413, 415, 422],
  }, async (c) => {
    const { sql, webhooks } = c.get("services");
    const principal = c.get("principal");
    const body = c.req.valid("json");
    if (body.all_users && !actsAsAdmin(principal)) {
      throw new ApiError("forbidden", "Only admins subscribe to every user's events.");
    }
    await checkDestination(webhooks, body.url);
    const id = crypto.randomUUID();
    const secret = generateWebhookSecret();
    const secretEnc = await webhooks.sealer.seal(id, secret);
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      const created = await insertWebhook(tx, {
        id,
        userId: principal.userId,
        url: body.url,
        events: body.events,
        description: body.description ?? null,
        allUsers: body.all_users ?? false,
        secretEnc,
        max: MAX_WEBHOOKS_PER_USER,
      });
      if (created) {
        await audit(tx, meta, "webhook.create", {
          userId: principal.userId,
          actorId: principal.userId,
          detail: { webhook_id: id, events: body.events, all_users: created.all_users },
        });
      }
      return created;
    });
    if (!row) {
      throw new ApiError(
        "conflict",
        `You already have ${MAX_WEBHOOKS_PER_USER} webhook endpoints; delete one first.`,
      );
    }
    return c.json({ ...toWebhook(row), secret }, 201);
  }),

  operation({
    method: "get",
    path: "/v1/webhooks",
    operationId: "listWebhooks",
    tags,
    summary: "List webhook endpoints (never the secrets)",
    description: "Your own endpoints, newest first; admins may pass `user_id`.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: { query: ListQuery },
    responses: {
      200: pageResponse(WebhookSchema, "WebhookPage", "Endpoints.", [EXAMPLE_WEBHOOK, {
        id: "3c5e7a9b-1d2f-4a6c-8e0b-4d6f8a0c2e57",
        user_id: EXAMPLE_IDS.user,
        url: "https://ci.example.org/hooks/gatehouse",
        events: ["api_key.expiring"],
        description: null,
        all_users: false,
        disabled: true,
        disabled_at: "2026-11-22T03:14:00.000Z",
        created_at: "2026-11-18T10:00:00.000Z",
        updated_at: "2026-11-22T03:14:00.000Z",
      }]),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const query = c.req.valid("query");
    // Another user's list looks like a missing one to anyone but an admin.
    const userId = userFilterOf(principal, query.user_id);
    return c.json(pageBody(query, await listWebhooks(sql, userId, query), toWebhook), 200);
  }),

  operation({
    method: "get",
    path: "/v1/webhooks/{webhook_id}",
    operationId: "getWebhook",
    tags,
    summary: "Get a webhook endpoint (never the secret)",
    description: "Owner or admin; anyone else's is a 404.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: { params: Params },
    responses: { 200: jsonResponse(WebhookSchema, "The endpoint.", { example: EXAMPLE_WEBHOOK }) },
    errors: [400, 404, 422],
  }, async (c) => {
    return c.json(toWebhook(await ownedWebhook(c, c.req.valid("param").webhook_id)), 200);
  }),

  operation({
    method: "patch",
    path: "/v1/webhooks/{webhook_id}",
    operationId: "updateWebhook",
    tags,
    summary: "Change a webhook endpoint, or re-enable it",
    description:
      "Owner or admin. A new `url` is checked like at creation. `disabled: false` re-enables an endpoint that was disabled after failing.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: {
      params: Params,
      body: jsonBody(UpdateBody, { events: ["quota.threshold"], disabled: false }),
    },
    responses: {
      200: jsonResponse(WebhookSchema, "The endpoint.", { example: EXAMPLE_UPDATED_WEBHOOK }),
    },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const { sql, webhooks } = c.get("services");
    const existing = await ownedWebhook(c, c.req.valid("param").webhook_id);
    const body = c.req.valid("json");
    if (body.url !== undefined) await checkDestination(webhooks, body.url);
    const principal = c.get("principal");
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      const updated = await updateWebhook(tx, existing.id, body);
      if (updated && body.disabled !== undefined && body.disabled !== existing.disabled) {
        await audit(tx, meta, body.disabled ? "webhook.disable" : "webhook.enable", {
          userId: existing.user_id,
          actorId: principal.userId,
          detail: { webhook_id: existing.id },
        });
      }
      return updated;
    });
    if (!row) throw ApiError.notFound("webhook");
    return c.json(toWebhook(row), 200);
  }),

  operation({
    method: "delete",
    path: "/v1/webhooks/{webhook_id}",
    operationId: "deleteWebhook",
    tags,
    summary: "Delete a webhook endpoint",
    description: "Owner or admin. Pending deliveries are cancelled.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: { params: Params },
    responses: { 204: noContentResponse("Deleted.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const existing = await ownedWebhook(c, c.req.valid("param").webhook_id);
    const principal = c.get("principal");
    const meta = requestMeta(c);
    const deleted = await sql.begin(async (tx) => {
      const gone = await deleteWebhook(tx, existing.id);
      if (gone) {
        await audit(tx, meta, "webhook.delete", {
          userId: existing.user_id,
          actorId: principal.userId,
          detail: { webhook_id: existing.id },
        });
      }
      return gone;
    });
    if (!deleted) throw ApiError.notFound("webhook");
    return c.body(null, 204);
  }),

  operation({
    method: "post",
    path: "/v1/webhooks/{webhook_id}/test",
    operationId: "testWebhook",
    tags,
    summary: "Send a webhook.test event",
    description:
      "Queues a `webhook.test` event for this endpoint only. A disabled endpoint is a 409.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: { params: Params },
    responses: {
      202: jsonResponse(TestAccepted, "Queued.", {
        example: { event_id: EXAMPLE_IDS.webhookEvent },
      }),
    },
    errors: [400, 404, 409, 422],
  }, async (c) => {
    const { sql, webhooks } = c.get("services");
    const existing = await ownedWebhook(c, c.req.valid("param").webhook_id);
    if (existing.disabled) {
      throw new ApiError("conflict", "This endpoint is disabled; re-enable it first.");
    }
    const eventId = await webhooks.emit(sql, {
      type: "webhook.test",
      userId: existing.user_id,
      webhookId: existing.id,
      data: { webhook_id: existing.id },
    });
    return c.json({ event_id: eventId! }, 202);
  }),

  operation({
    method: "get",
    path: "/v1/webhooks/{webhook_id}/deliveries",
    operationId: "listWebhookDeliveries",
    tags,
    summary: "List an endpoint's deliveries",
    description:
      "One row per event and endpoint, newest first, with its attempts so far, status and the last answer's HTTP status.",
    access: authenticated({ scopes: ["webhooks:write"] }),
    request: { params: Params, query: PageQuery },
    responses: {
      200: pageResponse(DeliverySchema, "WebhookDeliveryPage", "Deliveries.", [{
        id: "d15cf92d-5591-4f2f-be61-ae9833a836f4",
        event_id: EXAMPLE_IDS.webhookEvent,
        type: "webhook.test",
        attempt: 2,
        status: "pending",
        response_status: 502,
        next_attempt_at: "2026-11-23T12:37:00.000Z",
        last_attempt_at: "2026-11-23T12:32:00.000Z",
        created_at: "2026-11-23T12:31:30.000Z",
      }, {
        id: "9f1b3d5e-7a2c-4e6f-8b0d-1c3e5a7b9d24",
        event_id: "6a8c0e2f-4b1d-4f3a-9c5e-7d9f1b3a5c80",
        type: "quota.threshold",
        attempt: 1,
        status: "delivered",
        response_status: 204,
        next_attempt_at: null,
        last_attempt_at: "2026-11-23T09:00:02.000Z",
        created_at: "2026-11-23T09:00:01.000Z",
      }]),
    },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const existing = await ownedWebhook(c, c.req.valid("param").webhook_id);
    const query = c.req.valid("query");
    return c.json(pageBody(query, await listDeliveries(sql, existing.id, query), toDelivery), 200);
  }),
];
