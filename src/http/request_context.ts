import type { MiddlewareHandler } from "hono";
import { setResponseHeader } from "./response_headers.ts";
import type { AppEnv } from "./env.ts";
import { routeLabel } from "../metrics/http.ts";
import type { Services } from "../services.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
const PROBE_ROUTES = new Set(["/health/live", "/health/ready"]);

/** The request id: a sane one the client sent, else a new UUID. */
export function requestIdOf(incoming: string | null | undefined): string {
  return incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export interface AnsweredRequest {
  method: string;
  /** The route pattern (metrics label), "unmatched" when none. */
  route: string;
  /** The route path for the log line. */
  routePath: string;
  status: number;
  startedAt: number;
  requestId: string;
  logFields?: Record<string, unknown>;
}

/**
 * Counts an answered request in the metrics and writes its one JSON log line.
 * The line never holds headers, bodies or query strings: they can carry secrets.
 */
export function recordAnswered(services: Services, answered: AnsweredRequest): void {
  const durationMs = performance.now() - answered.startedAt;
  services.metrics.requestFinished({
    method: answered.method,
    route: answered.route,
    status: answered.status,
    durationMs,
  });
  // Supervisors probe these every few seconds; answered probes would drown the
  // request log, so they go to debug (failures stay at info, metrics count all).
  const level = answered.status < 400 && PROBE_ROUTES.has(answered.routePath) ? "debug" : "info";
  if (!services.log.enabled(level)) return;
  services.log[level]("request", {
    method: answered.method,
    route: answered.routePath,
    status: answered.status,
    duration_ms: Math.round(durationMs * 100) / 100,
    request_id: answered.requestId,
    ...answered.logFields,
  });
}

/**
 * Puts services on the context, assigns the request id (echoing a sane
 * client-sent one), and records the answer: one log line and the request
 * metrics (count and latency per route and status).
 */
export function requestContext(services: Services): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const startedAt = performance.now();
    const requestId = requestIdOf(c.req.header("x-request-id"));
    c.set("services", services);
    c.set("requestId", requestId);
    c.set("logFields", {});
    services.metrics.requestStarted();
    await next();
    setResponseHeader(c, "X-Request-Id", requestId);
    recordAnswered(services, {
      method: c.req.method,
      route: routeLabel(c),
      routePath: c.req.routePath,
      status: c.res.status,
      startedAt,
      requestId,
      logFields: c.get("logFields"),
    });
  };
}
