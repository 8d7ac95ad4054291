import { recordAnswered, requestIdOf } from "./request_context.ts";
import { API_HEADERS } from "./security_headers.ts";
import type { Services } from "../services.ts";

const LIVENESS_PATH = "/health/live";
const ALIVE_BODY = JSON.stringify({ status: "alive" });

/**
 * Answers a plain liveness probe (`GET /health/live`, no query, no Origin)
 * before the router. Supervisors and load balancers send it all the time, and
 * an instance under load must not spend its middleware stack on it. The answer
 * is the router's own (getLiveness), header for header; the request is counted
 * and logged the same way. Anything else (HEAD, a query, a browser's Origin)
 * returns undefined and goes through the router.
 */
export function livenessProbe(
  services: Services,
  options: { corsOrigins: readonly string[] },
): (request: Request) => Response | undefined {
  // One answer made up front; each probe gets a copy (copying keeps the header
  // list as is, where building it again validates every header each time).
  const alive = new Response(ALIVE_BODY, {
    status: 200,
    headers: [
      ["content-type", "application/json"],
      ["cache-control", "no-store"],
      ...API_HEADERS.map(([name, value]): [string, string] => [name.toLowerCase(), value]),
      // corsPolicy varies every answer by Origin once origins are configured.
      ...(options.corsOrigins.length > 0 ? [["vary", "Origin"] as [string, string]] : []),
    ],
  });
  return (request) => {
    if (request.method !== "GET" || !isLivenessUrl(request.url)) return undefined;
    if (request.headers.has("origin")) return undefined;
    const startedAt = performance.now();
    const requestId = requestIdOf(request.headers.get("x-request-id"));
    services.metrics.requestStarted();
    const response = alive.clone();
    response.headers.set("x-request-id", requestId);
    recordAnswered(services, {
      method: "GET",
      route: LIVENESS_PATH,
      routePath: LIVENESS_PATH,
      status: 200,
      startedAt,
      requestId,
    });
    return response;
  };
}

/** `scheme://host/health/live` exactly: no query, no longer path. */
function isLivenessUrl(url: string): boolean {
  if (!url.endsWith(LIVENESS_PATH)) return false;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  return pathStart === url.length - LIVENESS_PATH.length;
}
