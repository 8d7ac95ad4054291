import { z } from "@hono/zod-openapi";
import { apiKeyStart, generateApiKey, hashApiKey } from "../auth/api_key_format.ts";
import {
  actsAsAdmin,
  assertKeyWithinReach,
  BOUND_KEY_SCOPES,
  DEFAULT_BOUND_KEY_SCOPES,
  type KeyShape,
  ownerFilterOf,
  scopesOutsideBinding,
  userFilterOf,
} from "../auth/access.ts";
import { defaultKeyScopes, type Principal, type Scope, scopesOfRole } from "../principal.ts";
import {
  type ApiKeyRow,
  countLiveApiKeys,
  findApiKey,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  rollApiKey,
  updateApiKey,
} from "../db/api_keys.ts";
import { audit } from "../db/audit.ts";
import { chatbotOwnedBy } from "../db/chatbots.ts";
import { lockUser } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { requestMeta } from "../http/request_meta.ts";
import { optionalJsonBody } from "./optional_body.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import {
  BudgetUsd,
  EXAMPLE_IDS,
  ScopeSchema,
  TierSchema,
  Timestamp,
  uuid,
} from "./shared_schemas.ts";

const KeyScope = ScopeSchema.openapi({ example: "query" });
const PerMinute = z.number().int().min(1).max(1_000_000).openapi({ format: "int32", example: 120 });
const PerDay = z.number().int().min(1).max(100_000_000).openapi({ format: "int32", example: 5000 });

const ApiKeySchema = z.object({
  id: z.uuid().max(36),
  name: z.string().max(100),
  start: z.string().max(8).openapi({
    example: "gate_3fA",
    description: "First 8 characters, for display.",
  }),
  scopes: z.array(KeyScope).max(16),
  chatbot_id: z.uuid().max(36).nullable(),
  tier: TierSchema.nullable(),
  rate_limit_per_minute: PerMinute.nullable(),
  rate_limit_per_day: PerDay.nullable(),
  expires_at: Timestamp.nullable(),
  budget_usd_per_day: BudgetUsd.nullable().openapi({
    description: "USD this key may spend per UTC day (on top of its user's limits).",
  }),
  budget_usd_per_month: BudgetUsd.nullable().openapi({
    description: "USD this key may spend per UTC month (on top of its user's limits).",
  }),
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

/** A key as answers show it: the role's default scopes, never used yet. */
const EXAMPLE_KEY: z.output<typeof ApiKeySchema> = {
  id: EXAMPLE_IDS.apiKey,
  name: "CI pipeline",
  start: "gate_3fA",
  scopes: defaultKeyScopes("user"),
  chatbot_id: null,
  tier: null,
  budget_usd_per_day: 2.5,
  budget_usd_per_month: null,
  rate_limit_per_minute: null,
  rate_limit_per_day: null,
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  created_at: "2026-11-23T12:05:00.000Z",
};

const CreateApiKeyBody = z.object({
  name: z.string().trim().min(1).max(100).openapi({ example: "CI pipeline" }),
  scopes: z.array(KeyScope).min(1).max(16).optional().openapi({
    description: "Default: the role's scopes minus admin and keys:write; for a chatbot-bound " +
      `key \`query\` and \`chat\` (a bound key may hold only ${
        BOUND_KEY_SCOPES.map((s) => `\`${s}\``).join(", ")
      }). A key creating a key grants only scopes it holds.`,
  }),
  chatbot_id: z.uuid().max(36).optional().openapi({
    description: "Bind the key to this chatbot: it then reaches only that chatbot, its " +
      "conversations and the context it may see.",
  }),
  expires_at: z.iso.datetime({ offset: true }).max(40).optional().openapi({
    description: "A key that expires may create only keys that expire no later.",
  }),
  tier: TierSchema.optional().openapi({ description: "Admin only." }),
  rate_limit_per_minute: PerMinute.optional().openapi({ description: "Admin only." }),
  rate_limit_per_day: PerDay.optional().openapi({ description: "Admin only." }),
  budget_usd_per_day: BudgetUsd.optional().openapi({
    description: "USD per UTC day for this key. A key creating a key cannot give it more " +
      "than its own budget (it inherits it when not given).",
  }),
  budget_usd_per_month: BudgetUsd.optional().openapi({ description: "USD per UTC month." }),
}).strict().openapi("CreateApiKeyRequest");

const UpdateApiKeyBody = z.object({
  name: z.string().trim().min(1).max(100).optional().openapi({ example: "CI pipeline" }),
  budget_usd_per_day: BudgetUsd.nullable().optional().openapi({
    description: "USD per UTC day; null clears. A key may only lower it, never raise or clear.",
    example: 2.5,
  }),
  budget_usd_per_month: BudgetUsd.nullable().optional().openapi({
    description: "USD per UTC month; null clears. A key may only lower it.",
  }),
  tier: TierSchema.nullable().optional().openapi({ description: "Admin only." }),
  rate_limit_per_minute: PerMinute.nullable().optional().openapi({ description: "Admin only." }),
  rate_limit_per_day: PerDay.nullable().optional().openapi({ description: "Admin only." }),
}).strict().openapi("UpdateApiKeyRequest", {
  description: "Only the listed fields; unknown fields are 422.",
});

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
    budget_usd_per_day: row.budget_usd_per_day ?? null,
    budget_usd_per_month: row.budget_usd_per_month ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** A stored key, as the reach rule sees it. */
function shapeOf(row: ApiKeyRow): KeyShape {
  return {
    scopes: row.scopes,
    chatbotId: row.chatbot_id,
    expiresAt: row.expires_at,
    tier: row.tier,
    rateLimitPerMinute: row.rate_limit_per_minute,
    rateLimitPerDay: row.rate_limit_per_day,
  };
}

/** A key may lower a budget, never raise or clear it (null on `before` means none). */
function onlyLowers(
  field: string,
  before: number | null,
  after: number | null | undefined,
): void {
  if (after === undefined || after === before) return;
  if (after === null || (before !== null && after > before)) {
    throw new ApiError("forbidden", `An API key may lower ${field}, never raise or clear it.`, {
      fields: [field],
    });
  }
}

/**
 * The budgets of a key created by `principal`: a key cannot mint a key that
 * escapes its own budget (at most the same, inherited when not given).
 */
async function budgetsForNewKey(
  sql: Parameters<typeof findApiKey>[0],
  principal: Principal,
  asked: { day: number | null; month: number | null },
): Promise<{ day: number | null; month: number | null }> {
  if (principal.type !== "api_key" || !principal.apiKeyId) return asked;
  const own = await findApiKey(sql, principal.apiKeyId, principal.userId);
  const capped = (wanted: number | null, mine: number | null | undefined, field: string) => {
    if (mine === null || mine === undefined) return wanted;
    if (wanted === null) return mine;
    if (wanted > mine) {
      throw new ApiError("forbidden", `A key cannot give a new key a higher ${field}.`, {
        fields: [field],
      });
    }
    return wanted;
  };
  return {
    day: capped(asked.day, own?.budget_usd_per_day, "budget_usd_per_day"),
    month: capped(asked.month, own?.budget_usd_per_month, "budget_usd_per_month"),
  };
}

export const apiKeyRoutes = [
  operation({
    method: "post",
    path: "/v1/api-keys",
    operationId: "createApiKey",
    tags: ["api-keys"],
    summary: "Create an API key (the secret is shown once)",
    description: "A key may create only keys it could itself hold: scopes within its own, its " +
      "own chatbot binding, an expiry no later than its own (403 otherwise). A user holds at " +
      "most `MAX_API_KEYS_PER_USER` live keys (409 beyond).",
    access: authenticated({ scopes: ["keys:write"] }),
    request: {
      body: jsonBody(CreateApiKeyBody, {
        name: "nightly report script",
        scopes: ["query", "usage:read"],
      }),
    },
    responses: {
      201: jsonResponse(CreatedApiKeySchema, "Created.", {
        example: { ...EXAMPLE_KEY, key: "gate_3fA9kQ2mZr8LwX1bC7dE5gH0jK4nP6sT9vY2a1B3c" },
      }),
    },
    errors: [400, 404, 409, 413, 415, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const body = c.req.valid("json");
    if (
      !actsAsAdmin(principal) &&
      (body.tier || body.rate_limit_per_minute || body.rate_limit_per_day)
    ) {
      throw new ApiError("forbidden", "Only admins set a key's tier or limit overrides.");
    }
    if (body.expires_at && Date.parse(body.expires_at) <= Date.now()) {
      throw ApiError.invalid("expires_at", "must be in the future");
    }
    const chatbotId = body.chatbot_id ?? principal.chatbotId ?? null;
    if (chatbotId && body.scopes) {
      const unbound = scopesOutsideBinding(body.scopes);
      if (unbound.length > 0) {
        throw ApiError.invalid(
          "scopes",
          `a chatbot-bound key may hold only ${BOUND_KEY_SCOPES.join(", ")} ` +
            `(not ${unbound.join(", ")})`,
        );
      }
    }
    // A key never exceeds its owner's role, nor the credential that creates it.
    const ceiling = new Set<Scope>(
      scopesOfRole(principal.role).filter((s) => principal.scopes.includes(s)),
    );
    const defaults = chatbotId ? DEFAULT_BOUND_KEY_SCOPES : defaultKeyScopes(principal.role);
    const scopes = [...new Set(body.scopes ?? defaults.filter((s) => ceiling.has(s)))];
    const excess = scopes.filter((s) => !ceiling.has(s));
    if (excess.length > 0) {
      throw new ApiError("forbidden", `You cannot grant: ${excess.join(", ")}.`, {
        scopes: excess,
      });
    }
    const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
    const shape: KeyShape = {
      scopes,
      chatbotId,
      expiresAt,
      tier: body.tier ?? null,
      rateLimitPerMinute: body.rate_limit_per_minute ?? null,
      rateLimitPerDay: body.rate_limit_per_day ?? null,
    };
    assertKeyWithinReach(principal, shape);
    const budgets = await budgetsForNewKey(sql, principal, {
      day: body.budget_usd_per_day ?? null,
      month: body.budget_usd_per_month ?? null,
    });
    if (chatbotId && !(await chatbotOwnedBy(sql, chatbotId, principal.userId))) {
      throw ApiError.notFound("chatbot");
    }
    const maxKeys = c.get("services").config.MAX_API_KEYS_PER_USER;
    const key = generateApiKey();
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      // The owner's row lock makes count-then-insert atomic across parallel creates.
      await lockUser(tx, principal.userId);
      const live = await countLiveApiKeys(tx, principal.userId);
      if (live >= maxKeys) {
        throw new ApiError(
          "conflict",
          `You already hold ${live} live API keys, the most allowed (${maxKeys}); revoke one first.`,
          { limit: maxKeys, live },
        );
      }
      const created = await insertApiKey(tx, {
        userId: principal.userId,
        name: body.name,
        keyHash: hashApiKey(key),
        start: apiKeyStart(key),
        scopes,
        chatbotId,
        tier: shape.tier,
        perMinute: shape.rateLimitPerMinute,
        perDay: shape.rateLimitPerDay,
        expiresAt,
        budgetUsdPerDay: budgets.day,
        budgetUsdPerMonth: budgets.month,
      });
      await audit(tx, meta, "api_key.create", {
        userId: principal.userId,
        actorId: principal.userId,
        detail: { api_key_id: created.id, scopes: created.scopes },
      });
      return created;
    });
    return c.json({ ...toApiKey(row), key }, 201);
  }),

  operation({
    method: "patch",
    path: "/v1/api-keys/{key_id}",
    operationId: "updateApiKey",
    tags: ["api-keys"],
    summary: "Rename an API key or change its budgets",
    description: "The owner (or an admin) sets `name` and the key's USD budgets; admins also " +
      "`tier` and the rate-limit overrides. Through an API key, only keys that key could " +
      "create can be changed, and budgets may be lowered but never raised or cleared (403).",
    access: authenticated({ scopes: ["keys:write"] }),
    request: {
      params: KeyParams,
      body: jsonBody(UpdateApiKeyBody, { name: "CI pipeline", budget_usd_per_day: 2.5 }),
    },
    responses: { 200: jsonResponse(ApiKeySchema, "The updated key.", { example: EXAMPLE_KEY }) },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const patch = c.req.valid("json");
    const existing = await findApiKey(sql, keyId, ownerFilterOf(principal));
    if (!existing || existing.revoked_at) throw new ApiError("not_found", "No such API key.");
    const adminFields = (["tier", "rate_limit_per_minute", "rate_limit_per_day"] as const)
      .filter((f) => patch[f] !== undefined);
    if (adminFields.length > 0 && !principal.scopes.includes("admin")) {
      throw new ApiError("forbidden", `Only admins change ${adminFields.join(", ")}.`, {
        fields: adminFields,
      });
    }
    // The one key-management rule: a key changes only keys it could itself create.
    assertKeyWithinReach(principal, shapeOf(existing));
    if (principal.type === "api_key") {
      onlyLowers("budget_usd_per_day", existing.budget_usd_per_day, patch.budget_usd_per_day);
      onlyLowers(
        "budget_usd_per_month",
        existing.budget_usd_per_month,
        patch.budget_usd_per_month,
      );
    }
    const meta = requestMeta(c);
    const row = await sql.begin(async (tx) => {
      const updated = await updateApiKey(tx, keyId, patch);
      if (updated) {
        await audit(tx, meta, "api_key.update", {
          userId: updated.user_id,
          actorId: principal.userId,
          detail: { api_key_id: keyId, fields: Object.keys(patch) },
        });
      }
      return updated;
    });
    if (!row) throw new ApiError("not_found", "No such API key.");
    return c.json(toApiKey(row), 200);
  }),

  operation({
    method: "get",
    path: "/v1/api-keys",
    operationId: "listApiKeys",
    tags: ["api-keys"],
    summary: "List API keys (never the secrets)",
    description: "A chatbot-bound key may not list keys (403).",
    access: authenticated({ boundKeys: "refuse" }),
    request: { query: ListQuery },
    responses: {
      200: pageResponse(ApiKeySchema, "ApiKeyPage", "Keys, newest first.", [
        { ...EXAMPLE_KEY, last_used_at: "2026-11-23T12:10:41.000Z" },
        {
          ...EXAMPLE_KEY,
          id: "4a8c2e6f-0b1d-4f3a-8c5e-7d9f1b3a5c62",
          name: "Support widget",
          start: "gate_Zq7",
          scopes: ["query", "chat"],
          chatbot_id: EXAMPLE_IDS.chatbot,
          expires_at: "2027-05-23T00:00:00.000Z",
          created_at: "2026-11-22T09:00:00.000Z",
        },
      ]),
    },
    errors: [400, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const userId = userFilterOf(principal, query.user_id, "Only admins list another user's keys.");
    return c.json(pageBody(query, await listApiKeys(sql, userId, query), toApiKey), 200);
  }),

  operation({
    method: "get",
    path: "/v1/api-keys/{key_id}",
    operationId: "getApiKey",
    tags: ["api-keys"],
    summary: "Get one API key (never the secret)",
    description: "A chatbot-bound key may not read keys (403).",
    access: authenticated({ boundKeys: "refuse" }),
    request: { params: KeyParams },
    responses: { 200: jsonResponse(ApiKeySchema, "The key.", { example: EXAMPLE_KEY }) },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const row = await findApiKey(
      sql,
      c.req.valid("param").key_id,
      ownerFilterOf(c.get("principal")),
    );
    if (!row) throw ApiError.notFound("API key");
    return c.json(toApiKey(row), 200);
  }),

  operation({
    method: "delete",
    path: "/v1/api-keys/{key_id}",
    operationId: "revokeApiKey",
    tags: ["api-keys"],
    summary: "Revoke an API key",
    description: "Takes effect on every instance within 5 seconds. A key may revoke only keys " +
      "it could itself create (403 otherwise); the user's JWT revokes any of the user's keys.",
    access: authenticated({ scopes: ["keys:write"] }),
    request: { params: KeyParams },
    responses: { 204: noContentResponse("Revoked.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const row = await findApiKey(sql, keyId, ownerFilterOf(principal));
    if (!row || row.revoked_at) throw ApiError.notFound("API key");
    assertKeyWithinReach(principal, shapeOf(row));
    const meta = requestMeta(c);
    await sql.begin(async (tx) => {
      await revokeApiKey(tx, keyId);
      await audit(tx, meta, "api_key.revoke", {
        userId: row.user_id,
        actorId: principal.userId,
        detail: { api_key_id: keyId },
      });
    });
    // Requests and sockets on this instance see it at once (others within the cache's 2 s).
    c.get("services").authenticator.forgetApiKeys();
    return c.body(null, 204);
  }),

  operation({
    method: "post",
    path: "/v1/api-keys/{key_id}/roll",
    operationId: "rollApiKey",
    tags: ["api-keys"],
    summary: "Replace an API key's secret",
    description: "The old secret stays valid for `grace_seconds` (default 0, max 86400). A key " +
      "may roll only keys it could itself create (403 otherwise); the user's JWT rolls any of " +
      "the user's keys.",
    access: authenticated({ scopes: ["keys:write"] }),
    request: {
      params: KeyParams,
      body: { ...jsonBody(RollBody, { grace_seconds: 300 }), required: false },
    },
    responses: {
      200: jsonResponse(CreatedApiKeySchema, "The new secret (shown once).", {
        example: {
          ...EXAMPLE_KEY,
          start: "gate_FPl",
          last_used_at: "2026-11-23T12:10:41.000Z",
          key: "gate_FPlVu3tFjjhAYEO4U0S3CJFrlc3z7twgmF1FsMmz",
        },
      }),
    },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const graceSeconds = (await optionalJsonBody(c, RollBody))?.grace_seconds ?? 0;
    const existing = await findApiKey(sql, keyId, ownerFilterOf(principal));
    if (!existing || existing.revoked_at) throw ApiError.notFound("API key");
    assertKeyWithinReach(principal, shapeOf(existing));
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
        await audit(tx, meta, "api_key.roll", {
          userId: rolled.user_id,
          actorId: principal.userId,
          detail: { api_key_id: keyId, grace_seconds: graceSeconds },
        });
      }
      return rolled;
    });
    if (!row) throw ApiError.notFound("API key");
    c.get("services").authenticator.forgetApiKeys();
    return c.json({ ...toApiKey(row), key }, 200);
  }),
];
