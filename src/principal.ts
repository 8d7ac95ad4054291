/**
 * Who may do what, as plain data: the one list of roles (in increasing power), the one list of
 * scopes, and the principal the auth middleware resolves. A leaf: it imports nothing, so every
 * layer (db/ included) may import it. Access decisions built on it live in auth/access.ts.
 */

/** Roles in increasing power; `roleAtLeast` reads this order. */
export const ROLES = ["user", "moderator", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export const SCOPES = [
  "query",
  "chat",
  "profile:read",
  "profile:write",
  "chatbots:read",
  "chatbots:write",
  "usage:read",
  "keys:write",
  "webhooks:write",
  "admin",
] as const;
export type Scope = (typeof SCOPES)[number];

/** Every scope a role grants; a user's own JWT carries all of them. */
export function scopesOfRole(role: Role): Scope[] {
  return role === "admin" ? [...SCOPES] : SCOPES.filter((s) => s !== "admin");
}

/** Scopes a key gets only when asked for by name, never by default. */
const EXPLICIT_ONLY: readonly Scope[] = ["admin", "keys:write", "webhooks:write"];

/** A key created without `scopes` gets its owner's scopes minus the explicit-only ones. */
export function defaultKeyScopes(role: Role): Scope[] {
  return scopesOfRole(role).filter((s) => !EXPLICIT_ONLY.includes(s));
}

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

/**
 * What a principal was authenticated with, kept where the credential itself
 * cannot be (a WebSocket ticket), so its current state can be asked again:
 * the API key by the hash of the exact secret presented (a rolled-away secret
 * stops working when its grace ends), or the session behind the access token.
 */
export type CredentialRef =
  | { type: "api_key"; keyHash: string }
  | { type: "session"; sessionId: string; userId: string };

/** Who is calling, resolved once per request by the auth middleware. */
export interface Principal {
  type: "user" | "api_key";
  userId: string;
  /** The user's email as of the credential check (cached like the role). */
  email?: string;
  role: Role;
  tier: string;
  scopes: Scope[];
  sessionId?: string;
  apiKeyId?: string;
  chatbotId?: string;
  /** Per-key limit overrides (admin-set): they only narrow the budget the key counts against. */
  rateLimitPerMinute?: number;
  rateLimitPerDay?: number;
  /**
   * An admin gave the key a tier of its own: it counts against that tier's
   * windows under its own id instead of its owner's shared budget.
   */
  ownBudget?: boolean;
  /** The key's expiry, when it has one (keys it manages may not outlive it). */
  expiresAt?: Date;
}
