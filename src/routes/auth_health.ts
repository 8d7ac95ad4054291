import { z } from "@hono/zod-openapi";
import { generateApiKey, hashApiKey, looksLikeApiKey } from "../auth/api_key_format.ts";
import { databaseHealth, rateLimiterHealth } from "../health_probes.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { operation, publicAccess } from "./route_presets.ts";

const Check = z.object({
  status: z.enum(["up", "down", "degraded"]),
  latency_ms: z.number().min(0).max(3_600_000),
  detail: z.string().max(200).optional(),
}).openapi("AuthHealthCheck");

const AuthHealthSchema = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  checks: z.object({
    database: Check,
    rate_limiter: Check,
    signing_key: Check,
    api_key_hashing: Check,
  }),
}).openapi("AuthHealth");

function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  return fn().then((value) => [value, Math.round((performance.now() - started) * 100) / 100]);
}

export const authHealthRoutes = [
  operation({
    method: "get",
    path: "/v1/auth/health",
    operationId: "getAuthHealth",
    tags: ["auth"],
    summary: "Health of everything authentication depends on",
    description:
      "Database, rate limiter, a sign/verify round trip with the signing key, and an API key hash self-check. 503 when login could not work.",
    access: publicAccess,
    responses: {
      200: jsonResponse(AuthHealthSchema, "Authentication works.", {
        example: {
          status: "healthy",
          checks: {
            database: { status: "up", latency_ms: 0.9 },
            rate_limiter: { status: "up", latency_ms: 0.4, detail: "redis" },
            signing_key: { status: "up", latency_ms: 1.6, detail: "ES256" },
            api_key_hashing: { status: "up", latency_ms: 0.1 },
          },
        },
      }),
      503: jsonResponse(AuthHealthSchema, "Authentication is impaired."),
    },
  }, async (c) => {
    const services = c.get("services");
    const [database, rateLimiter, [signing, signingMs], [hashing, hashingMs]] = await Promise.all([
      databaseHealth(services),
      rateLimiterHealth(services),
      timed(() => services.tokens.selfCheck()),
      timed(() => {
        const key = generateApiKey();
        const ok = looksLikeApiKey(key) && hashApiKey(key) === hashApiKey(key) &&
          !looksLikeApiKey(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"));
        return Promise.resolve(ok);
      }),
    ]);
    const checks = {
      database,
      rate_limiter: rateLimiter,
      signing_key: {
        status: signing.ok ? "up" as const : "down" as const,
        latency_ms: signingMs,
        detail: signing.alg,
      },
      api_key_hashing: { status: hashing ? "up" as const : "down" as const, latency_ms: hashingMs },
    };
    // Login needs all four; the limiter being down makes login answer 503 too.
    const healthy = Object.values(checks).every((check) => check.status === "up");
    return c.json(
      { status: healthy ? "healthy" as const : "unhealthy" as const, checks },
      healthy ? 200 : 503,
    );
  }),
];
