import { type Principal, roleAtLeast } from "../principal.ts";
import type { ChatbotScope } from "../db/chatbots.ts";
import { ApiError } from "../errors.ts";

/** Admin powers need the admin role and, on an API key, the `admin` scope. */
export function actsAsAdmin(principal: Principal): boolean {
  return principal.role === "admin" && principal.scopes.includes("admin");
}

/** The chatbots a principal reaches: its own (admins: all); a bound key only its chatbot. */
export function chatbotScopeOf(principal: Principal): ChatbotScope {
  return {
    ownerId: actsAsAdmin(principal) ? null : principal.userId,
    chatbotId: principal.chatbotId ?? null,
  };
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
  if (!roleAtLeast(principal.role, "moderator")) throw new ApiError("not_found", "No such user.");
  if (access === "manage" && !actsAsAdmin(principal)) {
    throw new ApiError("forbidden", "Only admins act on other users.");
  }
}
