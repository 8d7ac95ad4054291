import { z } from "@hono/zod-openapi";
import { ModelId } from "./shared_schemas.ts";
import { jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";

const Price = z.number().min(0).max(1_000_000).openapi({
  description: "US dollars per million tokens.",
  example: 0.15,
});

const ModelSchema = z.object({
  id: ModelId,
  provider: z.string().max(64).openapi({ example: "echo" }),
  quality_rank: z.number().int().min(1).max(2_147_483_647).openapi({
    format: "int32",
    description: "1 is the best; quality and balanced modes prefer lower ranks.",
    example: 1,
  }),
  prices: z.object({ input_per_mtok: Price, output_per_mtok: Price }),
  status: z.enum(["available", "degraded", "unavailable"]).openapi({
    description: "`degraded` after recent failures; `unavailable` while its circuit breaker " +
      "is open (it is skipped until the cool-down ends).",
  }),
  latency_ms: z.number().int().min(0).max(3_600_000).nullable().openapi({
    format: "int32",
    description: "Moving average of recent successful calls; null before the first one.",
  }),
  development: z.boolean().openapi({
    description: "Served by the built-in echo provider (a development stand-in, not an LLM).",
  }),
}).openapi("Model");

export const modelRoutes = [
  operation({
    method: "get",
    path: "/v1/models",
    operationId: "listModels",
    tags: ["query"],
    summary: "List the configured models",
    description: "Every model queries may use, best rank first, with prices and current health.",
    access: authenticated(),
    responses: {
      200: jsonResponse(
        z.object({ items: z.array(ModelSchema).max(1000) }).openapi("ModelList"),
        "Models, best rank first.",
        {
          example: {
            items: [{
              id: "gpt-4o",
              provider: "openai",
              quality_rank: 1,
              prices: { input_per_mtok: 2.5, output_per_mtok: 10 },
              status: "available",
              latency_ms: 1840,
              development: false,
            }, {
              id: "gpt-4o-mini",
              provider: "openai",
              quality_rank: 2,
              prices: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
              status: "degraded",
              latency_ms: 720,
              development: false,
            }, {
              id: "echo-fast",
              provider: "echo",
              quality_rank: 3,
              prices: { input_per_mtok: 0.1, output_per_mtok: 0.4 },
              status: "available",
              latency_ms: 3,
              development: true,
            }],
          },
        },
      ),
    },
  }, (c) => {
    const items = c.get("services").models.listWithHealth().map((m) => ({
      id: m.id,
      provider: m.provider,
      quality_rank: m.rank,
      prices: m.prices,
      status: m.health.status,
      latency_ms: m.health.latency_ms,
      development: m.development,
    }));
    return c.json({ items }, 200);
  }),
];
