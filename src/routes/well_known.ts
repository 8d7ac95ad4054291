import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../http/env.ts";
import { errorResponses, jsonResponse } from "./responses.ts";
import { publicAccess } from "./security.ts";

const JwkSchema = z.object({
  kty: z.string().max(16),
  kid: z.string().max(128),
  alg: z.string().max(16),
  use: z.string().max(8),
  crv: z.string().max(16).optional(),
  x: z.string().max(256).optional(),
  y: z.string().max(256).optional(),
}).openapi("Jwk");

const JwksSchema = z.object({ keys: z.array(JwkSchema).max(20) }).openapi("Jwks");

const getJwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  operationId: "getJwks",
  tags: ["auth"],
  summary: "Public keys that verify access tokens",
  description: "Empty under HS256. Current and still-accepted previous keys otherwise.",
  security: publicAccess,
  responses: {
    200: jsonResponse(JwksSchema, "The key set."),
    ...errorResponses([500]),
  },
});

export function registerWellKnownRoutes(app: App): void {
  app.openapi(getJwks, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(c.get("services").tokens.jwks() as z.infer<typeof JwksSchema>, 200);
  });
}
