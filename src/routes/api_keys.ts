import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../app.ts";
import { apiKeyStart, generateApiKey, hashApiKey } from "../auth/api_key_format.ts";
import { requireAuth } from "../auth/middleware.ts";
import {
  defaultKeyScopes,
  type Principal,
  type Scope,
  SCOPES,
  scopesOfRole,
} from "../auth/principal.ts";
import {
  type ApiKeyRow,
  findApiKey,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  rollApiKey,
} from "../db/api_keys.ts";
import { recordAuditEvent } from "../db/audit.ts";
import { chatbotOwnedBy } from "../db/chatbot_ownership.ts";
import { ApiError } from "../errors.ts";
import { requestMeta } from "./auth.ts";
import { optionalJsonBody } from "./optional_body.ts";
import { errorResponses, jsonBody, jsonResponse, noContentResponse } from "./responses.ts";
import { anyCredential } from "./security.ts";
import { pageOf, PageQuery, TierSchema, Timestamp, uuid } from "./shared_schemas.ts";

const ScopeSchema = z.enum(SCOPES).openapi({ example: "query" });
const PerMinute = z.number().int().min(1).max(1_000_000).openapi({ format: "int32", example: 120 });
const PerDay = z.number().int().min(1).max(100_000_000).openapi({ format: "int32", example: 5000 });

const ApiKeySchema = z.object({
  id: z.uuid().max(36),
  name: z.string().max(100),
  start: z.string().max(8).openapi({
    example: "gate_3fA",
    description: "First 8 characters, for display.",
  }),
  scopes: z.array(ScopeSchema).max(16),
  chatbot_id: z.uuid().max(36).nullable(),
  tier: TierSchema.nullable(),
  rate_limit_per_minute: PerMinute.nullable(),
  rate_limit_per_day: PerDay.nullable(),
  expires_at: Timestamp.nullable(),
  last_used_at: Timestamp.nullable(),
  revoked_at: Timestamp.nullable(),
  created_at: Timestamp,
}).openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().max(64).openapi({
    example: "gate_3fA9kQ2mZr8LwX1bC7dE5gH0jK4nP6sT9vY2a1B3c",
    description: "The secret. Shown only in this response.",
  }),
}).openapi("CreatedApiKey");

const CreateApiKeyBody = z.object({
  name: z.string().trim().min(1).max(100).openapi({ example: "CI pipeline" }),
  scopes: z.array(ScopeSchema).min(1).max(16).optional(),
  chatbot_id: z.uuid().max(36).optional(),
  expires_at: z.iso.datetime({ offset: true }).max(40).optional(),
  tier: TierSchema.optional().openapi({ description: "Admin only." }),
  rate_limit_per_minute: PerMinute.optional().openapi({ description: "Admin only." }),
  rate_limit_per_day: PerDay.optional().openapi({ description: "Admin only." }),
}).strict().openapi("CreateApiKeyRequest");

const RollBody = z.object({
  grace_seconds: z.number().int().min(0).max(86400).optional().openapi({
    format: "int32",
    description: "How long the old secret keeps working (default 0).",
  }),
}).strict().openapi("RollApiKeyRequest");

const ListQuery = PageQuery.extend({
  user_id: z.uuid().max(36).optional().openapi({ description: "Admin only: another user's keys." }),
});

const KeyParams = z.object({ key_id: uuid("key_id") });
const limited = { limited: true };
const authErrors = [401, 403, 429, 500] as const;

const createApiKey = createRoute({
  method: "post",
  path: "/v1/api-keys",
  operationId: "createApiKey",
  tags: ["api-keys"],
  summary: "Create an API key (the secret is shown once)",
  security: anyCredential,
  middleware: [requireAuth({ scopes: ["keys:write"] })] as const,
  request: {
    body: jsonBody(CreateApiKeyBody, {
      name: "nightly report script",
      scopes: ["query", "usage:read"],
    }),
  },
  responses: {
    201: jsonResponse(CreatedApiKeySchema, "Created.", limited),
    ...errorResponses([400, 404, 413, 415, 422, ...authErrors], limited),
  },
});

const listApiKeysRoute = createRoute({
  method: "get",
  path: "/v1/api-keys",
  operationId: "listApiKeys",
  tags: ["api-keys"],
  summary: "List API keys (never the secrets)",
  security: anyCredential,
  middleware: [requireAuth()] as const,
  request: { query: ListQuery },
  responses: {
    200: jsonResponse(pageOf(ApiKeySchema, "ApiKeyPage"), "Keys, newest first.", limited),
    ...errorResponses([400, 422, ...authErrors], limited),
  },
});

const getApiKey = createRoute({
  method: "get",
  path: "/v1/api-keys/{key_id}",
  operationId: "getApiKey",
  tags: ["api-keys"],
  summary: "Get one API key (never the secret)",
  security: anyCredential,
  middleware: [requireAuth()] as const,
  request: { params: KeyParams },
  responses: {
    200: jsonResponse(ApiKeySchema, "The key.", limited),
    ...errorResponses([400, 404, 422, ...authErrors], limited),
  },
});

const revokeApiKeyRoute = createRoute({
  method: "delete",
  path: "/v1/api-keys/{key_id}",
  operationId: "revokeApiKey",
  tags: ["api-keys"],
  summary: "Revoke an API key",
  description: "Takes effect on every instance within 5 seconds.",
  security: anyCredential,
  middleware: [requireAuth({ scopes: ["keys:write"] })] as const,
  request: { params: KeyParams },
  responses: {
    204: noContentResponse("Revoked.", limited),
    ...errorResponses([400, 404, 422, ...authErrors], limited),
  },
});

const rollApiKeyRoute = createRoute({
  method: "post",
  path: "/v1/api-keys/{key_id}/roll",
  operationId: "rollApiKey",
  tags: ["api-keys"],
  summary: "Replace an API key's secret",
  description: "The old secret stays valid for `grace_seconds` (default 0, max 86400).",
  security: anyCredential,
  middleware: [requireAuth({ scopes: ["keys:write"] })] as const,
  request: {
    params: KeyParams,
    body: { ...jsonBody(RollBody, { grace_seconds: 300 }), required: false },
  },
  responses: {
    200: jsonResponse(CreatedApiKeySchema, "The new secret (shown once).", limited),
    ...errorResponses([400, 404, 413, 415, 422, ...authErrors], limited),
  },
});

function toApiKey(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    start: row.start,
    scopes: row.scopes,
    chatbot_id: row.chatbot_id,
    tier: row.tier,
    rate_limit_per_minute: row.rate_limit_per_minute,
    rate_limit_per_day: row.rate_limit_per_day,
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** Admins reach every key; everyone else only their own (others look missing). */
function ownerFilter(principal: Principal): string | null {
  return principal.role === "admin" && principal.scopes.includes("admin") ? null : principal.userId;
}

export function registerApiKeyRoutes(app: App): void {
  app.openapi(createApiKey, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const isAdmin = principal.scopes.includes("admin");
    if (!isAdmin && (body.tier || body.rate_limit_per_minute || body.rate_limit_per_day)) {
      throw new ApiError("forbidden", "Only admins set a key's tier or limit overrides.");
    }
    // A key never exceeds its owner's role, nor the credential that creates it.
    const ceiling = new Set<Scope>(
      scopesOfRole(principal.role).filter((s) => principal.scopes.includes(s)),
    );
    const scopes = body.scopes ?? defaultKeyScopes(principal.role).filter((s) => ceiling.has(s));
    const excess = scopes.filter((s) => !ceiling.has(s));
    if (excess.length > 0) {
      throw new ApiError("forbidden", `You cannot grant: ${excess.join(", ")}.`, {
        scopes: excess,
      });
    }
    if (body.expires_at && Date.parse(body.expires_at) <= Date.now()) {
      throw new ApiError("validation_error", undefined, {
        issues: [{ path: ["expires_at"], message: "must be in the future" }],
      });
    }
    if (principal.chatbotId && body.chatbot_id !== principal.chatbotId) {
      throw new ApiError("forbidden", "A chatbot-bound key can only create keys for its chatbot.");
    }
    const chatbotId = body.chatbot_id ?? principal.chatbotId ?? null;
    if (chatbotId && !(await chatbotOwnedBy(sql, chatbotId, principal.userId))) {
      throw new ApiError("not_found", "No such chatbot.");
    }
    const key = generateApiKey();
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      const created = await insertApiKey(tx, {
        userId: principal.userId,
        name: body.name,
        keyHash: hashApiKey(key),
        start: apiKeyStart(key),
        scopes: [...new Set(scopes)],
        chatbotId,
        tier: body.tier ?? null,
        perMinute: body.rate_limit_per_minute ?? null,
        perDay: body.rate_limit_per_day ?? null,
        expiresAt: body.expires_at ? new Date(body.expires_at) : null,
      });
      await recordAuditEvent(tx, {
        action: "api_key.create",
        userId: principal.userId,
        actorId: principal.userId,
        ip: meta.ip,
        requestId: meta.requestId,
        detail: { api_key_id: created.id, scopes: created.scopes },
      });
      return created;
    });
    return c.json({ ...toApiKey(row), key }, 201);
  });

  app.openapi(listApiKeysRoute, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const query = c.req.valid("query");
    let userId = principal.userId;
    if (query.user_id && query.user_id !== principal.userId) {
      if (!principal.scopes.includes("admin")) {
        throw new ApiError("forbidden", "Only admins list another user's keys.");
      }
      userId = query.user_id;
    }
    const { items, total } = await listApiKeys(sql, userId, query);
    return c.json(
      { items: items.map(toApiKey), limit: query.limit, offset: query.offset, total },
      200,
    );
  });

  app.openapi(getApiKey, async (c) => {
    const { sql } = c.get("services");
    const row = await findApiKey(sql, c.req.valid("param").key_id, ownerFilter(c.get("principal")));
    if (!row) throw new ApiError("not_found", "No such API key.");
    return c.json(toApiKey(row), 200);
  });

  app.openapi(revokeApiKeyRoute, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const row = await findApiKey(sql, keyId, ownerFilter(principal));
    if (!row || row.revoked_at) throw new ApiError("not_found", "No such API key.");
    const meta = requestMeta(c);
    await sql.begin(async (tx) => {
      await revokeApiKey(tx, keyId);
      await recordAuditEvent(tx, {
        action: "api_key.revoke",
        userId: row.user_id,
        actorId: principal.userId,
        ip: meta.ip,
        requestId: meta.requestId,
        detail: { api_key_id: keyId },
      });
    });
    return c.body(null, 204);
  });

  app.openapi(rollApiKeyRoute, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const graceSeconds = (await optionalJsonBody(c, RollBody))?.grace_seconds ?? 0;
    const existing = await findApiKey(sql, keyId, ownerFilter(principal));
    if (!existing || existing.revoked_at) throw new ApiError("not_found", "No such API key.");
    const key = generateApiKey();
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      const rolled = await rollApiKey(tx, {
        keyId,
        keyHash: hashApiKey(key),
        start: apiKeyStart(key),
        previousExpiresAt: graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null,
      });
      if (rolled) {
        await recordAuditEvent(tx, {
          action: "api_key.roll",
          userId: rolled.user_id,
          actorId: principal.userId,
          ip: meta.ip,
          requestId: meta.requestId,
          detail: { api_key_id: keyId, grace_seconds: graceSeconds },
        });
      }
      return rolled;
    });
    if (!row) throw new ApiError("not_found", "No such API key.");
    return c.json({ ...toApiKey(row), key }, 200);
  });
}
