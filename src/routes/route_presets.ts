/**
 * Route presets: an operation is written once, as `operation(contract, handler)`, its handler
 * right after its contract, and says who may call it with one `access` preset:
 *
 * - `authenticated({ scopes, jwtOnly, minRole, boundKeys })`: a credential is needed. Gives the
 *   document's `security` (an access token only with `jwtOnly`; the `admin` scope named when it is
 *   required; else a token or an API key), the `requireAuth` middleware with that requirement, and
 *   the answers it can give by itself (401, 403, 429, 500), all rate-limited.
 * - `perClientIp`: public, limited per client IP in the handler (register, login, refresh): 429,
 *   and 503 when the limiter is down.
 * - `publicAccess`: public and not limited (health, keys): only 500.
 *
 * The contract is createRoute's, with `access` in place of `security` and `middleware`, and
 * `errors` listing only what the operation's own input and handler can answer (400, 404, 422...);
 * the access preset adds its own statuses. Every answer declares the headers its access implies:
 * the rate-limit headers on a limited operation, Retry-After on 429, WWW-Authenticate on 401.
 * `errorShape` swaps the error body (the OpenAI-compatible operations answer in OpenAI's).
 *
 * Route files export their operations as a list; `app.ts` registers the lists with
 * `openapiRoutes`, and that order is the document's order of paths and methods.
 */
import {
  createRoute,
  defineOpenAPIRoute,
  type OpenAPIRoute,
  type RouteConfig,
} from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AuthRequirement } from "../auth/access.ts";
import type { AppEnv } from "../http/env.ts";
import { requireAuth } from "../http/require_auth.ts";
import {
  errorResponses,
  type ErrorShape,
  type ErrorStatus,
  headersFor,
} from "./openapi_responses.ts";

/** An OpenAPI security requirement: any one of the listed schemes (with its scopes). */
type Security = Record<string, string[]>[];

/** Who may call an operation: what its contract declares and what runs before its handler. */
export interface Access {
  security: Security;
  middleware: MiddlewareHandler<AppEnv>[];
  /** What the access rule itself can answer. */
  errors: readonly ErrorStatus[];
  /** Rate-limited: every answer declares the rate-limit headers. */
  limited: boolean;
}

const bearerOnly: Security = [{ bearerAuth: [] }];
const anyCredential: Security = [{ bearerAuth: [] }, { apiKeyHeader: [] }];
/** Declared apart so the document shows admin operations need more than any other credential. */
const adminCredential: Security = [{ bearerAuth: ["admin"] }, { apiKeyHeader: ["admin"] }];

/** A credential is needed, and it must meet `requirement` (see `AuthRequirement`). */
export function authenticated(requirement: AuthRequirement = {}): Access {
  return {
    security: requirement.jwtOnly
      ? bearerOnly
      : requirement.scopes?.includes("admin")
      ? adminCredential
      : anyCredential,
    middleware: [requireAuth(requirement)],
    errors: [401, 403, 429, 500],
    limited: true,
  };
}

/** Public, limited per client IP by the handler; a down limiter refuses (503). */
export const perClientIp: Access = {
  security: [],
  middleware: [],
  errors: [429, 500, 503],
  limited: true,
};

/** Public and not limited. */
export const publicAccess: Access = { security: [], middleware: [], errors: [500], limited: false };

/** An operation's contract as route files write it. */
export type Contract = Omit<RouteConfig, "security" | "middleware"> & {
  access: Access;
  /** What the operation's input and handler can answer, beyond its access preset's. */
  errors?: readonly ErrorStatus[];
  /** The error body, when not the API's own (the OpenAI-compatible operations). */
  errorShape?: ErrorShape;
};

/** The createRoute config a contract becomes. */
type RouteOf<C extends Contract> = Omit<C, "access" | "errors" | "errorShape"> & {
  security: Security;
  middleware?: MiddlewareHandler<AppEnv>[];
};

/** An operation of the API: its contract as a createRoute config, and its handler beside it. */
export function operation<C extends Contract>(
  contract: C,
  handler: OpenAPIRoute<RouteOf<C>, AppEnv>["handler"],
): OpenAPIRoute<RouteOf<C>, AppEnv> {
  const { access, errors = [], errorShape, responses, ...rest } = contract;
  const { limited } = access;
  const answers = Object.fromEntries(
    Object.entries(responses).map(([status, response]) => [
      status,
      "$ref" in response ? response : {
        ...response,
        headers: { ...headersFor(Number(status), { limited }), ...response.headers },
      },
    ]),
  );
  const route = createRoute({
    ...rest,
    // After operationId, tags, summary and description: the document keeps that order.
    security: access.security,
    ...(access.middleware.length > 0 ? { middleware: access.middleware } : {}),
    responses: {
      ...answers,
      ...errorResponses([...errors, ...access.errors], { limited, shape: errorShape }),
    },
  });
  // The handler's type sees the contract's own responses: errors are thrown (ApiError), never
  // returned, and the error answers above are for the document.
  return defineOpenAPIRoute({ route: route as unknown as RouteOf<C>, handler });
}
