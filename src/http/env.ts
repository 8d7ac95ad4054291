import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "../principal.ts";
import type { Services } from "../services.ts";

/** Hono environment shared by every route: services and per-request values. */
export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    /** Set by requireAuth on authenticated routes. */
    principal: Principal;
    /** Extra fields for this request's log line (principal id, key id; never secrets). */
    logFields: Record<string, string | number | boolean>;
  };
}

/**
 * The app type route files register on. It lives here, not in app.ts, so that route files never
 * import the module that imports them.
 */
export type App = OpenAPIHono<AppEnv>;
