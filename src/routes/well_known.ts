import { z } from "@hono/zod-openapi";
import { jsonResponse } from "./openapi_responses.ts";
import { operation, publicAccess } from "./route_presets.ts";

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

export const wellKnownRoutes = [
  operation({
    method: "get",
    path: "/.well-known/jwks.json",
    operationId: "getJwks",
    tags: ["auth"],
    summary: "Public keys that verify access tokens",
    description: "Empty under HS256. Current and still-accepted previous keys otherwise.",
    access: publicAccess,
    responses: {
      200: jsonResponse(JwksSchema, "The key set.", {
        // Under ES256; the key set is empty under HS256.
        example: {
          keys: [{
            kty: "EC",
            kid: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
            alg: "ES256",
            use: "sig",
            crv: "P-256",
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
          }],
        },
      }),
    },
  }, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(c.get("services").tokens.jwks() as z.infer<typeof JwksSchema>, 200);
  }),
];
