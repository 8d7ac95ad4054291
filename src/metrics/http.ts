import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/**
 * The route pattern a request was answered by (e.g. `/v1/users/:user_id`), for
 * metric labels: the last matched route that is not a middleware (`app.use`
 * registers method "ALL"). "unmatched" for 404s and 405s, so a scanner walking
 * random paths cannot create new series.
 */
export function routeLabel(c: Context): string {
  try {
    const routes = matchedRoutes(c);
    for (let i = routes.length - 1; i >= 0; i--) {
      const route = routes[i]!;
      if (route.method !== "ALL") return route.path;
    }
  } catch {
    // No match result (a request that never reached the router).
  }
  return "unmatched";
}
