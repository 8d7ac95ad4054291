import { z } from "@hono/zod-openapi";
import type { RequestMeta } from "../auth/session_service.ts";
import type { Principal } from "../principal.ts";
import { audit, type AuditAction } from "../db/audit.ts";
import type { Tx } from "../db/tx.ts";
import {
  eraseUser,
  findUserById,
  listUsers,
  lockUser,
  updateUser,
  type UserRow,
} from "../db/users.ts";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";
import { actsAsAdmin, authorizeUserTarget } from "../auth/access.ts";
import { requestMeta } from "../http/request_meta.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";
import { pageBody, PageQuery, pageResponse } from "./pages.ts";
import {
  BudgetUsd,
  EXAMPLE_USER,
  RoleSchema,
  TierSchema,
  toUser,
  UserSchema,
  uuid,
} from "./shared_schemas.ts";

const ShortName = z.string().trim().min(1).max(100).nullable().optional();
const LongName = z.string().trim().min(1).max(200).nullable().optional();

/** Fields only an admin may send, even about themselves. */
const privilegedFields = {
  role: RoleSchema.optional().openapi({ description: "Admin only; revokes every session." }),
  tier: TierSchema.optional().openapi({ description: "Admin only." }),
  disabled: z.boolean().optional().openapi({
    description: "Admin only; disabling revokes every session.",
  }),
  budget_usd_per_day: BudgetUsd.nullable().optional().openapi({
    description: "Admin only: USD per UTC day over all of the user's credentials; null clears.",
  }),
  budget_usd_per_month: BudgetUsd.nullable().optional().openapi({
    description: "Admin only: USD per UTC month over all of the user's credentials; null clears.",
  }),
};
const PRIVILEGED_FIELDS = Object.keys(privilegedFields) as (keyof typeof privilegedFields)[];

const UpdateUserBody = z.object({
  display_name: ShortName.openapi({ example: "Ada" }),
  first_name: ShortName.openapi({ example: "Ada" }),
  last_name: ShortName.openapi({ example: "Lovelace" }),
  company: LongName.openapi({ example: "Analytical Engines" }),
  job_title: LongName.openapi({ example: "Engineer" }),
  ...privilegedFields,
}).strict().openapi("UpdateUserRequest", {
  description: "Only the listed fields; null clears a name field. Unknown fields are 422.",
});

const ListUsersQuery = PageQuery.extend({
  q: z.string().trim().min(1).max(254).optional().openapi({
    description: "Case-insensitive match on email, display name, first/last name or company.",
    example: "ada",
  }),
});

/** The user after updateUser's request example. */
const EXAMPLE_UPDATED_USER: z.output<typeof UserSchema> = {
  ...EXAMPLE_USER,
  first_name: "Ada",
  last_name: "Lovelace",
  company: "Analytical Engines",
  updated_at: "2026-11-23T12:20:00.000Z",
};

export const UserParams = z.object({ user_id: uuid("user_id") });

/** Revokes sessions and writes the audit trail for role, tier and disabled changes. */
async function applyPrivilegeChanges(
  tx: Tx,
  services: Services,
  change: { before: UserRow; after: UserRow; actor: Principal; meta: RequestMeta },
): Promise<void> {
  const { before, after, actor, meta } = change;
  const record = (action: AuditAction, detail: Record<string, unknown> = {}) =>
    audit(tx, meta, action, { userId: after.id, actorId: actor.userId, detail });
  const roleChanged = before.role !== after.role;
  const disabledNow = !before.disabled && after.disabled;
  if (roleChanged || disabledNow) {
    await services.sessions.revokeAllOfUser(tx, after.id, disabledNow ? "disabled" : "role_change");
  }
  if (roleChanged) await record("user.role_change", { from: before.role, to: after.role });
  if (disabledNow) await record("user.disable");
  if (before.disabled && !after.disabled) await record("user.enable");
  if (
    before.budget_usd_per_day !== after.budget_usd_per_day ||
    before.budget_usd_per_month !== after.budget_usd_per_month
  ) {
    await record("user.budget_change", {
      from: [before.budget_usd_per_day, before.budget_usd_per_month],
      to: [after.budget_usd_per_day, after.budget_usd_per_month],
    });
  }
  if (before.tier !== after.tier) {
    await record("user.tier_change", { from: before.tier, to: after.tier });
  }
}

export const userRoutes = [
  operation({
    method: "get",
    path: "/v1/users",
    operationId: "listUsers",
    tags: ["users"],
    summary: "List and search users (moderator or admin)",
    description: "Lower roles get 403. API keys need `profile:read`.",
    access: authenticated({ scopes: ["profile:read"], minRole: "moderator" }),
    request: { query: ListUsersQuery },
    responses: {
      200: pageResponse(UserSchema, "UserPage", "Users, newest first.", [EXAMPLE_UPDATED_USER, {
        ...EXAMPLE_USER,
        id: "8e2f4a6c-1d3b-4f5e-a7c9-0b2d4f6a8c13",
        email: "adam.smith@example.com",
        display_name: "Adam",
        first_name: "Adam",
        last_name: "Smith",
        company: null,
        job_title: "Economist",
        role: "moderator",
        tier: "pro",
        created_at: "2026-11-20T09:15:00.000Z",
        updated_at: "2026-11-21T10:00:00.000Z",
      }]),
    },
    errors: [400, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const query = c.req.valid("query");
    return c.json(pageBody(query, await listUsers(sql, query), toUser), 200);
  }),

  operation({
    method: "get",
    path: "/v1/users/{user_id}",
    operationId: "getUser",
    tags: ["users"],
    summary: "Get a user (yourself; moderators and admins: anyone)",
    description: "Another user is 404 to a plain user, exactly like a missing one.",
    access: authenticated({ scopes: ["profile:read"] }),
    request: { params: UserParams },
    responses: { 200: jsonResponse(UserSchema, "The user.", { example: EXAMPLE_UPDATED_USER }) },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql } = c.get("services");
    const userId = c.req.valid("param").user_id;
    authorizeUserTarget(c.get("principal"), userId, "view");
    const user = await findUserById(sql, userId);
    if (!user) throw ApiError.notFound("user");
    return c.json(toUser(user), 200);
  }),

  operation({
    method: "patch",
    path: "/v1/users/{user_id}",
    operationId: "updateUser",
    tags: ["users"],
    summary:
      "Update a user's names, company and job title (admins: also role, tier, disabled, budgets)",
    description:
      "Yourself, or anyone as an admin. A role change or disabling revokes every session of the user.",
    access: authenticated({ scopes: ["profile:write"] }),
    request: {
      params: UserParams,
      body: jsonBody(UpdateUserBody, {
        first_name: "Ada",
        last_name: "Lovelace",
        company: "Analytical Engines",
      }),
    },
    responses: {
      200: jsonResponse(UserSchema, "The updated user.", { example: EXAMPLE_UPDATED_USER }),
    },
    errors: [400, 404, 413, 415, 422],
  }, async (c) => {
    const services = c.get("services");
    const principal = c.get("principal");
    const userId = c.req.valid("param").user_id;
    const patch = c.req.valid("json");
    authorizeUserTarget(principal, userId, "manage");
    const privileged = PRIVILEGED_FIELDS.filter((field) => patch[field] !== undefined);
    if (privileged.length > 0 && !actsAsAdmin(principal)) {
      throw new ApiError("forbidden", `Only admins change ${privileged.join(", ")}.`, {
        fields: privileged,
      });
    }
    const meta = requestMeta(c);
    const updated = await services.sql.begin(async (tx) => {
      const before = await lockUser(tx, userId);
      if (!before) return null;
      const after = (await updateUser(tx, userId, patch))!;
      await applyPrivilegeChanges(tx, services, { before, after, actor: principal, meta });
      return after;
    });
    if (!updated) throw ApiError.notFound("user");
    return c.json(toUser(updated), 200);
  }),

  operation({
    method: "delete",
    path: "/v1/users/{user_id}",
    operationId: "deleteUser",
    tags: ["users"],
    summary: "Erase a user and everything they own (yourself, or anyone as an admin)",
    description:
      "Sessions, keys, chatbots, conversations, consents and details go in one transaction; " +
      "audit events stay, anonymised. Needs an access token (JWT): never an API key (403).",
    access: authenticated({ scopes: ["profile:write"], jwtOnly: true }),
    request: { params: UserParams },
    responses: { 204: noContentResponse("Erased.") },
    errors: [400, 404, 422],
  }, async (c) => {
    const { sql, sessions } = c.get("services");
    const principal = c.get("principal");
    const userId = c.req.valid("param").user_id;
    authorizeUserTarget(principal, userId, "manage");
    const bySelf = userId === principal.userId;
    const meta = requestMeta(c);
    const erased = await sql.begin(async (tx) => {
      // Revoking first also drops this instance's cached credentials of the user.
      await sessions.revokeAllOfUser(tx, userId, "user_deleted");
      if (!(await eraseUser(tx, userId))) return false;
      await audit(tx, { ip: bySelf ? null : meta.ip, requestId: meta.requestId }, "user.delete", {
        actorId: bySelf ? null : principal.userId,
        detail: { by: bySelf ? "self" : "admin" },
      });
      return true;
    });
    if (!erased) throw ApiError.notFound("user");
    return c.body(null, 204);
  }),
];
