/**
 * All access policy, in one place: who acts as an admin, which chatbots,
 * conversations and users a principal reaches, and what a credential may reach
 * beyond its scopes (the confinement of API keys).
 *
 * - Admin powers need the admin role and, on an API key, the `admin` scope
 *   (`actsAsAdmin`, the one admin check).
 * - A chatbot-bound key holds at most `BOUND_KEY_SCOPES` and reaches only its
 *   chatbot (routes ask `chatbotScopeOf`/`conversationScopeOf` for that).
 * - A key manages (creates, rolls, revokes, updates) only keys it could itself
 *   create: `assertKeyWithinReach` is that one rule, for every key operation.
 */
import type { ChatbotScope } from "../db/chatbots.ts";
import type { ConversationScope } from "../db/conversations.ts";
import { ApiError } from "../errors.ts";
import { type Principal, type Role, roleAtLeast, type Scope, scopesOfRole } from "../principal.ts";

/** Admin powers need the admin role and, on an API key, the `admin` scope. */
export function actsAsAdmin(principal: Principal): boolean {
  return principal.role === "admin" && principal.scopes.includes("admin");
}

/** Whose rows a principal reaches: its own user's, or for an admin everyone's (null). */
export function ownerFilterOf(principal: Principal): string | null {
  return actsAsAdmin(principal) ? null : principal.userId;
}

/** The chatbots a principal reaches: its own (admins: all); a bound key only its chatbot. */
export function chatbotScopeOf(principal: Principal): ChatbotScope {
  return { ownerId: ownerFilterOf(principal), chatbotId: principal.chatbotId ?? null };
}

/** A caller reaches their own conversations; a chatbot-bound key only its chatbot's. */
export function conversationScopeOf(principal: Principal): ConversationScope {
  return { userId: principal.userId, chatbotId: principal.chatbotId ?? null };
}

/** `view`: read the user (moderators may); `manage`: change, erase or read private data. */
export type UserAccess = "view" | "manage";

/**
 * Gate for routes on `/v1/users/{user_id}`. Callers always reach themselves.
 * Whoever may not even see other users gets 404, exactly as for a missing
 * one; a moderator, who sees them, gets 403 where only admins may act.
 */
export function authorizeUserTarget(
  principal: Principal,
  targetUserId: string,
  access: UserAccess,
): void {
  if (targetUserId === principal.userId) return;
  if (!roleAtLeast(principal.role, "moderator")) throw ApiError.notFound("user");
  if (access === "manage" && !actsAsAdmin(principal)) {
    throw new ApiError("forbidden", "Only admins act on other users.");
  }
}

/**
 * The user a `user_id` filter names: the caller when absent or themselves; another user only
 * for an admin. Anyone else is refused as if that user did not exist, or, when the operation
 * says `forbidden`, with that 403 message.
 */
export function userFilterOf(
  principal: Principal,
  userId: string | undefined,
  forbidden?: string,
): string {
  if (!userId || userId === principal.userId) return principal.userId;
  if (!actsAsAdmin(principal)) {
    throw forbidden ? new ApiError("forbidden", forbidden) : ApiError.notFound("user");
  }
  return userId;
}

/** The only scopes a chatbot-bound key may hold. */
export const BOUND_KEY_SCOPES: readonly Scope[] = ["query", "chat", "chatbots:read", "usage:read"];

/** What a bound key gets when created without `scopes`. */
export const DEFAULT_BOUND_KEY_SCOPES: readonly Scope[] = ["query", "chat"];

/**
 * The scopes a stored key acts with now: never beyond its owner's current role,
 * and for a bound key never beyond `BOUND_KEY_SCOPES` (keys stored before that
 * rule keep their row but lose the rest).
 */
export function effectiveKeyScopes(
  stored: readonly Scope[],
  ownerRole: Role,
  chatbotId: string | null,
): Scope[] {
  const allowed = new Set<Scope>(scopesOfRole(ownerRole));
  return stored.filter((s) => allowed.has(s) && (!chatbotId || BOUND_KEY_SCOPES.includes(s)));
}

/** A key as the reach rule sees it: a stored one, or one about to be created. */
export interface KeyShape {
  scopes: readonly Scope[];
  chatbotId: string | null;
  expiresAt: Date | null;
  /** Admin-set: a tier of its own, or per-minute/per-day overrides. */
  tier: string | null;
  rateLimitPerMinute: number | null;
  rateLimitPerDay: number | null;
}

/** Why `actor` may not hold a key shaped like `target`, or null when it may. */
export interface ReachRefusal {
  message: string;
  detail: Record<string, unknown>;
}

/**
 * The rule for every key operation (create, roll, revoke, update): an API key
 * may act only on keys it could itself create — scopes within its own, its own
 * chatbot binding, an expiry no later than its own, and no admin-set tier or
 * overrides unless it acts as an admin. A user's own JWT manages all of the
 * user's keys (creation still caps scopes by role and tier by admin).
 * Ownership (which user's keys) is checked by the caller, before this.
 */
export function keyReachRefusal(actor: Principal, target: KeyShape): ReachRefusal | null {
  if (actor.type !== "api_key") return null;
  if (!actsAsAdmin(actor) && (target.tier || target.rateLimitPerMinute || target.rateLimitPerDay)) {
    return {
      message: "Only an admin's key acts on keys with a tier or limit overrides.",
      detail: { reason: "admin_settings" },
    };
  }
  const excess = target.scopes.filter((s) => !actor.scopes.includes(s));
  if (excess.length > 0) {
    return {
      message: `This key cannot act on a key with scopes beyond its own: ${excess.join(", ")}.`,
      detail: { reason: "scopes", scopes: excess },
    };
  }
  if (actor.chatbotId && target.chatbotId !== actor.chatbotId) {
    return {
      message: "A chatbot-bound key acts only on keys bound to its own chatbot.",
      detail: { reason: "chatbot_binding", chatbot_id: actor.chatbotId },
    };
  }
  if (actor.expiresAt) {
    if (!target.expiresAt || target.expiresAt.getTime() > actor.expiresAt.getTime()) {
      return {
        message: `This key expires at ${actor.expiresAt.toISOString()}; it acts only on keys ` +
          "that expire no later (set expires_at).",
        detail: { reason: "expiry", expires_at: actor.expiresAt.toISOString() },
      };
    }
  }
  return null;
}

/** `keyReachRefusal` as a 403 `forbidden`. */
export function assertKeyWithinReach(actor: Principal, target: KeyShape): void {
  const refusal = keyReachRefusal(actor, target);
  if (refusal) throw new ApiError("forbidden", refusal.message, refusal.detail);
}

/** Whether a chatbot-bound key may hold these scopes; the ones it may not. */
export function scopesOutsideBinding(scopes: readonly Scope[]): Scope[] {
  return scopes.filter((s) => !BOUND_KEY_SCOPES.includes(s));
}

export interface AuthRequirement {
  /** Every listed scope is needed (API keys carry a subset; JWTs all of the role). */
  scopes?: Scope[];
  /** Session-only operations (logout, sessions) refuse API keys. */
  jwtOnly?: boolean;
  /** Role gate: lower roles get 403 on every method. */
  minRole?: Role;
  /**
   * Chatbot-bound keys: `"refuse"` keeps them out (403); a list of scopes lets
   * them in with any one of those instead of `scopes` (the handler confines
   * them to their chatbot). Unset: the same rules as for any key.
   */
  boundKeys?: "refuse" | readonly Scope[];
}

/** Checks a principal against a route's requirement (scopes, session-only, role, bound keys). */
export function authorize(principal: Principal, requirement: AuthRequirement): void {
  if (requirement.jwtOnly && principal.type !== "user") {
    throw new ApiError("forbidden", "This operation needs a user session, not an API key.");
  }
  if (requirement.minRole && !roleAtLeast(principal.role, requirement.minRole)) {
    throw new ApiError("forbidden", `This operation needs the ${requirement.minRole} role.`);
  }
  if (principal.chatbotId && requirement.boundKeys) {
    if (requirement.boundKeys === "refuse") {
      throw new ApiError("forbidden", "A chatbot-bound key cannot use this operation.");
    }
    if (!requirement.boundKeys.some((s) => principal.scopes.includes(s))) {
      throw new ApiError(
        "forbidden",
        `Missing scope: one of ${requirement.boundKeys.join(", ")}.`,
        { missing_scopes: [...requirement.boundKeys] },
      );
    }
    return;
  }
  const missing = (requirement.scopes ?? []).filter((s) => !principal.scopes.includes(s));
  if (missing.length > 0) {
    throw new ApiError("forbidden", `Missing scope: ${missing.join(", ")}.`, {
      missing_scopes: missing,
    });
  }
}
