import type { MiddlewareHandler } from "hono";
import { setResponseHeader } from "./response_headers.ts";
import type { AppEnv } from "./env.ts";
import { routeLabel } from "../metrics/http.ts";
import type { Services } from "../services.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
const PROBE_ROUTES = new Set(["/health/live", "/health/ready"]);

/**
 * Puts services on the context, assigns the request id (echoing a sane
 * client-sent one), and writes one JSON log line per request. The line never
 * holds headers, bodies or query strings: they can carry secrets. The same
 * measurement feeds the request metrics (count and latency per route and status).
 */
export function requestContext(services: Services): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("services", services);
    c.set("requestId", requestId);
    c.set("logFields", {});
    services.metrics.requestStarted();
    await next();
    setResponseHeader(c, "X-Request-Id", requestId);
    const durationMs = performance.now() - started;
    services.metrics.requestFinished({
      method: c.req.method,
      route: routeLabel(c),
      status: c.res.status,
      durationMs,
    });
    // Supervisors probe these every few seconds; answered probes would drown the
    // request log, so they go to debug (failures stay at info, metrics count all).
    const quiet = c.res.status < 400 && PROBE_ROUTES.has(c.req.routePath);
    services.log[quiet ? "debug" : "info"]("request", {
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      duration_ms: Math.round(durationMs * 100) / 100,
      request_id: requestId,
      ...c.get("logFields"),
    });
  };
}
