import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { requestMeta } from "../http/request_meta.ts";
import {
  checkPasswordPolicy,
  dummyVerify,
  hashPassword,
  scryptParams,
  verifyPassword,
} from "../auth/passwords.ts";
import type { GuardedCheck } from "../auth/login_guard.ts";
import { clientIp } from "../http/client_ip.ts";
import { audit } from "../db/audit.ts";
import { hasLoggedInFrom } from "../db/sessions.ts";
import { isUniqueViolation } from "../db/tx.ts";
import {
  findUserByEmail,
  findUserById,
  findUserWithPasswordById,
  insertUser,
  updatePasswordHash,
} from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { enforceDecision } from "../ratelimit/enforce.ts";
import { jsonBody, jsonResponse, noContentResponse } from "./openapi_responses.ts";
import { authenticated, operation, perClientIp } from "./route_presets.ts";
import {
  EXAMPLE_USER,
  RoleSchema,
  ScopeSchema,
  TierSchema,
  toUser,
  UserSchema,
} from "./shared_schemas.ts";

const Email = z.email().max(254).openapi({ example: "ada@example.com" });
// Length rules (8..256 code points, no truncation) are checked by the password
// policy so the message can be precise; the schema only bounds the input.
const Password = z.string().min(1).max(1024).openapi({
  example: "correct horse battery staple",
  description: "8 to 256 characters; common passwords are refused.",
});

const TokenPairSchema = z.object({
  access_token: z.string().max(4096),
  refresh_token: z.string().max(256),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().min(1).max(900).openapi({ format: "int32", example: 900 }),
}).openapi("TokenPair");

const RegisterBody = z.object({
  email: Email,
  password: Password,
  display_name: z.string().trim().min(1).max(100).optional().openapi({ example: "Ada" }),
}).openapi("RegisterRequest");

const RegisterResponse = TokenPairSchema.extend({ user: UserSchema }).openapi("RegisterResponse");

const LoginResponse = TokenPairSchema.extend({ user: UserSchema }).openapi("LoginResponse");

const LoginBody = z.object({ email: Email, password: Password }).openapi("LoginRequest");
const RefreshBody = z.object({
  refresh_token: z.string().min(1).max(256),
}).openapi("RefreshRequest");
const ChangePasswordBody = z.object({
  current_password: Password,
  new_password: Password,
}).strict().openapi("ChangePasswordRequest");

const WhoamiSchema = z.object({
  principal: z.object({
    type: z.enum(["user", "api_key"]),
    user_id: z.uuid().max(36),
    email: z.string().max(254).openapi({
      example: "ada@example.com",
      description: "The user's email (the key owner's, for an API key).",
    }),
    role: RoleSchema,
    tier: TierSchema,
    scopes: z.array(ScopeSchema).max(16),
    api_key_id: z.uuid().max(36).optional(),
    chatbot_id: z.uuid().max(36).optional(),
    session_id: z.uuid().max(36).optional(),
  }),
}).openapi("Whoami");

/** A token pair as answers show it (the values are shortened, not real). */
const EXAMPLE_PAIR = {
  access_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIzZjFjMmE5ZSJ9.c2lnbmF0dXJl",
  refresh_token: "rt_Jk3nV8qL2xW9pZ4mT7yB1cR6sD0fG5hA3eU8iO2wQ",
  token_type: "Bearer" as const,
  expires_in: 900,
};

async function assertPasswordPolicy(
  password: string,
  context: { email?: string; displayName?: string },
  field: string,
) {
  const problem = await checkPasswordPolicy(password, context);
  if (problem) {
    throw ApiError.invalid(field, problem);
  }
}

/** register, login and refresh share a per-IP budget; a down limiter refuses them. */
async function limitClientIp(c: Context<AppEnv>): Promise<void> {
  const { limits, config, metrics } = c.get("services");
  enforceDecision(c, await limits.clientIp(clientIp(c, config.TRUST_PROXY)), true, metrics);
}

/** The password verdict, or the failure budget's 429 (503 when the limiter is down). */
function verdictOrRefusal<V>(c: Context<AppEnv>, guarded: GuardedCheck<V>): V {
  if (guarded.kind === "checked") return guarded.verdict;
  enforceDecision(c, guarded.decision, true, c.get("services").metrics);
  // A refused slot always carries a denial or a timeout, so the line above threw.
  throw new ApiError("rate_limited", "Too many failed attempts; try again later.");
}

export const authRoutes = [
  operation({
    method: "post",
    path: "/v1/auth/register",
    operationId: "register",
    tags: ["auth"],
    summary: "Create an account and start a session",
    description: "Creates a user with role `user` and tier `free` and answers with the user and " +
      "a token pair. Passwords: 8 to 256 characters, common ones refused (422). A taken email " +
      "is 409. Limited per client IP, with login and refresh.",
    access: perClientIp,
    request: {
      body: jsonBody(RegisterBody, {
        email: "ada@example.com",
        password: "tidal-marble-compass-42",
        display_name: "Ada",
      }),
    },
    responses: {
      201: jsonResponse(RegisterResponse, "Registered; a session was started.", {
        example: { user: EXAMPLE_USER, ...EXAMPLE_PAIR },
      }),
    },
    errors: [400, 409, 413, 415, 422],
  }, async (c) => {
    const { sql, sessions, config } = c.get("services");
    await limitClientIp(c);
    const body = c.req.valid("json");
    await assertPasswordPolicy(
      body.password,
      { email: body.email, displayName: body.display_name },
      "password",
    );
    const passwordHash = await hashPassword(body.password, scryptParams(config));
    const meta = requestMeta(c);
    try {
      const result = await sql.begin(async (tx) => {
        const user = await insertUser(tx, {
          email: body.email,
          passwordHash,
          displayName: body.display_name ?? null,
        });
        const pair = await sessions.start(tx, user, meta);
        await audit(tx, meta, "auth.register", { userId: user.id, actorId: user.id });
        return { user, pair };
      });
      const { session_id: _sessionId, ...pair } = result.pair;
      return c.json({ user: toUser(result.user), ...pair }, 201);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ApiError("conflict", "This email is already registered.");
      }
      throw error;
    }
  }),

  operation({
    method: "post",
    path: "/v1/auth/login",
    operationId: "login",
    tags: ["auth"],
    summary: "Log in with email and password",
    description: "Unknown email and wrong password give the same 401 body and similar timing.",
    access: perClientIp,
    request: {
      body: jsonBody(LoginBody, { email: "ada@example.com", password: "tidal-marble-compass-42" }),
    },
    responses: {
      200: jsonResponse(LoginResponse, "A new session's token pair and the user.", {
        example: { user: EXAMPLE_USER, ...EXAMPLE_PAIR },
      }),
    },
    errors: [400, 401, 403, 413, 415, 422],
  }, async (c) => {
    const { sql, sessions, config, loginGuard } = c.get("services");
    await limitClientIp(c);
    const { email, password } = c.req.valid("json");
    const meta = requestMeta(c);
    const params = scryptParams(config);
    const user = await findUserByEmail(sql, email);
    const knownNetwork = user ? await hasLoggedInFrom(sql, user.id, meta.ip) : false;
    // The failure slot is taken before the hash is checked (given back when right).
    const guarded = await loginGuard.check(
      { email, ip: meta.ip, userId: user?.id ?? null, knownNetwork },
      // Unknown emails pay for a full hash too, so timing does not reveal accounts.
      async () =>
        user
          ? await verifyPassword(password, user.password_hash, params)
          : { ...(await dummyVerify(password, params)), ok: false },
    );
    const verdict = verdictOrRefusal(c, guarded);
    if (!user || !verdict.ok) {
      await audit(sql, meta, "auth.login_failed", { userId: user?.id ?? null });
      throw new ApiError("unauthorized", "Invalid email or password.");
    }
    if (user.disabled) throw new ApiError("forbidden", "This account is disabled.");
    const newHash = verdict.needsRehash ? await hashPassword(password, params) : null;
    const pair = await sql.begin(async (tx) => {
      if (newHash) await updatePasswordHash(tx, user.id, newHash);
      const started = await sessions.start(tx, user, meta);
      await audit(tx, meta, "auth.login", {
        userId: user.id,
        actorId: user.id,
        detail: { session_id: started.session_id, ...(newHash ? { rehashed: true } : {}) },
      });
      return started;
    });
    const { session_id: _sessionId, ...body } = pair;
    const { password_hash: _hash, ...row } = user;
    return c.json({ ...body, user: toUser(row) }, 200);
  }),

  operation({
    method: "post",
    path: "/v1/auth/refresh",
    operationId: "refreshToken",
    tags: ["auth"],
    summary: "Rotate a refresh token",
    description:
      "Single use. Presenting the immediate parent of the active token within the grace window returns the active pair; any other reuse revokes the session.",
    access: perClientIp,
    request: {
      body: jsonBody(RefreshBody, {
        refresh_token: "paste the refresh_token of a login, register or refresh answer",
      }),
    },
    responses: {
      200: jsonResponse(TokenPairSchema, "The next token pair.", { example: EXAMPLE_PAIR }),
    },
    errors: [400, 401, 413, 415, 422],
  }, async (c) => {
    const { sessions } = c.get("services");
    await limitClientIp(c);
    const pair = await sessions.refresh(c.req.valid("json").refresh_token, requestMeta(c));
    return c.json(pair, 200);
  }),

  operation({
    method: "post",
    path: "/v1/auth/password",
    operationId: "changePassword",
    tags: ["auth"],
    summary: "Change the password (ends every session)",
    description: "Needs the access token (not an API key) and the current password. The new " +
      "password follows the registration policy; every session ends, including this one.",
    access: authenticated({ jwtOnly: true }),
    request: {
      body: jsonBody(ChangePasswordBody, {
        current_password: "tidal-marble-compass-42",
        new_password: "quiet-harbor-lantern-77",
      }),
    },
    responses: { 204: noContentResponse("Changed; every session was revoked.") },
    errors: [400, 413, 415, 422],
  }, async (c) => {
    const { sql, sessions, config, loginGuard } = c.get("services");
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const user = await findUserWithPasswordById(sql, principal.userId);
    if (!user) throw new ApiError("unauthorized");
    const params = scryptParams(config);
    const meta = requestMeta(c);
    // The current password is a login in disguise: same failure budget, slot taken first.
    const guarded = await loginGuard.check({
      email: user.email,
      ip: meta.ip,
      userId: user.id,
      knownNetwork: await hasLoggedInFrom(sql, user.id, meta.ip),
    }, () => verifyPassword(body.current_password, user.password_hash, params));
    const verdict = verdictOrRefusal(c, guarded);
    if (!verdict.ok) {
      throw ApiError.invalid("current_password", "Current password is incorrect");
    }
    await assertPasswordPolicy(
      body.new_password,
      { email: user.email, displayName: user.display_name ?? undefined },
      "new_password",
    );
    const hash = await hashPassword(body.new_password, params);
    await sql.begin(async (tx) => {
      await updatePasswordHash(tx, user.id, hash);
      await sessions.revokeAllOfUser(tx, user.id, "password_change");
      await audit(tx, meta, "auth.password_change", { userId: user.id, actorId: user.id });
    });
    return c.body(null, 204);
  }),

  operation({
    method: "get",
    path: "/v1/auth/me",
    operationId: "getCurrentUser",
    tags: ["auth"],
    summary: "The caller's user",
    description: "A chatbot-bound key may not read the account (403).",
    access: authenticated({ boundKeys: "refuse" }),
    responses: { 200: jsonResponse(UserSchema, "The user.", { example: EXAMPLE_USER }) },
  }, async (c) => {
    const { sql } = c.get("services");
    const user = await findUserById(sql, c.get("principal").userId);
    if (!user) throw new ApiError("unauthorized");
    return c.json(toUser(user), 200);
  }),

  operation({
    method: "get",
    path: "/v1/auth/whoami",
    operationId: "whoami",
    tags: ["auth"],
    summary: "The resolved principal: user or API key, role, tier and scopes",
    description: "Who the credential is: the user (id and email), their role and tier, and the " +
      "scopes in force; for an API key also its id and chatbot binding, for a token its session.",
    access: authenticated(),
    responses: {
      200: jsonResponse(WhoamiSchema, "The principal.", {
        example: {
          principal: {
            type: "api_key",
            user_id: EXAMPLE_USER.id,
            email: EXAMPLE_USER.email,
            role: "user",
            tier: "free",
            scopes: ["query", "chat", "profile:read", "usage:read"],
            api_key_id: "9b2e7c41-5d3a-4f8e-a1c6-0e4d2b7f9a35",
          },
        },
      }),
    },
  }, async (c) => {
    const p = c.get("principal");
    // The authenticator carries the email from its (cached) credential check.
    const email = p.email ?? (await findUserById(c.get("services").sql, p.userId))?.email;
    if (email === undefined) throw new ApiError("unauthorized");
    return c.json({
      principal: {
        type: p.type,
        user_id: p.userId,
        email,
        role: p.role,
        tier: p.tier,
        scopes: p.scopes,
        ...(p.apiKeyId ? { api_key_id: p.apiKeyId } : {}),
        ...(p.chatbotId ? { chatbot_id: p.chatbotId } : {}),
        ...(p.sessionId ? { session_id: p.sessionId } : {}),
      },
    }, 200);
  }),
];
