import { createHash, timingSafeEqual } from "node:crypto";
import type { App } from "../http/env.ts";
import { ApiError } from "../errors.ts";
import { databaseHealth, rateLimiterHealth } from "../health_probes.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/registry.ts";

/** Equal-length digests, so neither the token nor its length leaks through timing. */
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * `GET /metrics` in the Prometheus text format, for scrapers rather than API
 * clients, so it is left out of the OpenAPI document (like `/docs`). With
 * METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>`. Unset, it
 * is 404 outside embedded mode (metrics describe traffic and are not for the
 * public) and open in embedded mode, a local development server. Each scrape
 * also probes the database and the rate limiter.
 */
export function registerMetricsRoutes(app: App): void {
  app.get("/metrics", async (c) => {
    const services = c.get("services");
    const token = services.config.METRICS_TOKEN;
    if (!token && services.config.mode !== "embedded") {
      throw new ApiError("not_found", "No such route.");
    }
    if (token) {
      const header = c.req.header("authorization") ?? "";
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match || !sameSecret(match[1]!, token)) {
        throw new ApiError("unauthorized", "Missing or invalid metrics token.", undefined, {
          headers: { "WWW-Authenticate": 'Bearer realm="metrics"' },
        });
      }
    }
    const { metrics } = services;
    const [database, limiter] = await Promise.all([
      databaseHealth(services),
      rateLimiterHealth(services),
    ]);
    metrics.recordProbe("database", database);
    metrics.recordProbe("rate_limiter", limiter);
    const body = await metrics.render();
    return c.body(body, 200, {
      "Content-Type": PROMETHEUS_CONTENT_TYPE,
      "Cache-Control": "no-store",
    });
  });
}
