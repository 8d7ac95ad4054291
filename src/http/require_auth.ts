import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { setResponseHeader } from "./response_headers.ts";
import { authorize, type AuthRequirement } from "../auth/access.ts";
import { admitOrThrow } from "../ratelimit/enforce.ts";

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
