import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";
import { ApiError } from "../errors.ts";
import { setResponseHeader } from "../middleware/response_headers.ts";
import { admitOrThrow } from "../ratelimit/enforce.ts";
import { type Principal, type Role, roleAtLeast, type Scope } from "../principal.ts";

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

/** Authenticates the caller and enforces scopes and role before the handler runs. */
export function requireAuth(requirement: AuthRequirement = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { authenticator } = c.get("services");
    const principal = await authenticator.authenticate({
      authorization: c.req.header("authorization"),
      apiKeyHeader: c.req.header("x-api-key"),
    });
    c.set("principal", principal);
    const fields = c.get("logFields");
    fields.principal_id = principal.userId;
    if (principal.apiKeyId) fields.api_key_id = principal.apiKeyId;
    // Every authenticated call counts, even one its scopes then refuse.
    const services = c.get("services");
    const limitHeaders = admitOrThrow(
      await services.limits.principal(principal),
      false,
      services.metrics,
    );
    try {
      authorize(principal, requirement);
    } catch (refusal) {
      for (const [name, value] of Object.entries(limitHeaders)) c.header(name, value);
      throw refusal;
    }
    await next();
    // Errors thrown by the handler are already answered here (hono's compose),
    // so every answer after admission gets the headers, set in place.
    for (const [name, value] of Object.entries(limitHeaders)) setResponseHeader(c, name, value);
  };
}

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
