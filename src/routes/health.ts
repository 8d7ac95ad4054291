import { z } from "@hono/zod-openapi";
import { pingDatabase } from "../db/ping.ts";
import { databaseHealth, llmHealth, rateLimiterHealth } from "../health_probes.ts";
import { VERSION } from "../version.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { operation, publicAccess } from "./route_presets.ts";

const ComponentSchema = z.object({
  status: z.enum(["up", "down", "degraded"]).openapi({ example: "up" }),
  latency_ms: z.number().min(0).max(3_600_000).openapi({ example: 1.2 }),
  detail: z.string().max(200).optional().openapi({ example: "redis" }),
}).openapi("ComponentHealth");

const HealthSchema = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  version: z.string().max(32).openapi({ example: VERSION }),
  uptime_s: z.number().int().min(0).max(2_147_483_647).openapi({ format: "int64", example: 42 }),
  components: z.object({
    database: ComponentSchema,
    rate_limiter: ComponentSchema,
    llm_providers: ComponentSchema,
  }),
}).openapi("Health");

const LivenessSchema = z.object({ status: z.literal("alive") }).openapi("Liveness");
const ReadySchema = z.object({ status: z.literal("ready") }).openapi("Ready");
const NotReadySchema = z.object({
  status: z.literal("not_ready"),
  reason: z.enum(["draining", "database_unreachable"]),
}).openapi("NotReady");

export const healthRoutes = [
  operation({
    method: "get",
    path: "/health/live",
    operationId: "getLiveness",
    tags: ["health"],
    summary: "Liveness: the process is serving requests",
    description: "Touches no dependency; for process supervisors.",
    access: publicAccess,
    responses: { 200: jsonResponse(LivenessSchema, "Alive.", { example: { status: "alive" } }) },
  }, (c) => c.json({ status: "alive" as const }, 200)),

  operation({
    method: "get",
    path: "/health/ready",
    operationId: "getReadiness",
    tags: ["health"],
    summary: "Readiness: the database answers and the service is not draining",
    description: "For a load balancer's or orchestrator's readiness probe: 200 while this " +
      "instance should get traffic; 503 with a reason when the database does not answer within " +
      "READINESS_TIMEOUT_MS or the instance is shutting down.",
    access: publicAccess,
    responses: {
      200: jsonResponse(ReadySchema, "Ready to take traffic.", { example: { status: "ready" } }),
      503: jsonResponse(NotReadySchema, "Not ready (database unreachable or draining)."),
    },
  }, async (c) => {
    const { lifecycle, sql, config } = c.get("services");
    if (lifecycle.draining) {
      return c.json({ status: "not_ready" as const, reason: "draining" as const }, 503);
    }
    const db = await pingDatabase(sql, config.READINESS_TIMEOUT_MS);
    if (db.status !== "up") {
      return c.json({ status: "not_ready" as const, reason: "database_unreachable" as const }, 503);
    }
    return c.json({ status: "ready" as const }, 200);
  }),

  operation({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["health"],
    summary: "Component health with latencies",
    description: "503 only when the database is down; other failing components make it degraded.",
    access: publicAccess,
    responses: {
      200: jsonResponse(HealthSchema, "Healthy or degraded.", {
        example: {
          status: "degraded",
          version: VERSION,
          uptime_s: 86_400,
          components: {
            database: { status: "up", latency_ms: 0.8 },
            rate_limiter: { status: "down", latency_ms: 250, detail: "redis" },
            llm_providers: { status: "up", latency_ms: 0, detail: "2/2 models available" },
          },
        },
      }),
      503: jsonResponse(HealthSchema, "Unhealthy: the database is down."),
    },
  }, async (c) => {
    const services = c.get("services");
    const [database, rateLimiter] = await Promise.all([
      databaseHealth(services),
      rateLimiterHealth(services),
    ]);
    const llm = llmHealth(services);
    const status = database.status !== "up"
      ? "unhealthy" as const
      : rateLimiter.status !== "up" || llm.status !== "up"
      ? "degraded" as const
      : "healthy" as const;
    const body = {
      status,
      version: VERSION,
      uptime_s: Math.floor((Date.now() - services.startedAt) / 1000),
      components: { database, rate_limiter: rateLimiter, llm_providers: llm },
    };
    return c.json(body, status === "unhealthy" ? 503 : 200);
  }),
];
