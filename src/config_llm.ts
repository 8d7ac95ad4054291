/**
 * The shape of `LLM_PROVIDERS` (a JSON array of OpenAI-compatible upstreams and their models),
 * kept beside `config.ts` so the config module validates it with every other variable (one
 * message names every bad variable) without importing the LLM package. `llm/models.ts` builds
 * the registry from the parsed `ProviderConfig[]` and re-exports these names.
 */
import { z } from "zod";

export interface ModelConfig {
  /** Gateway-facing id, unique across all providers. */
  id: string;
  /** Upstream model name; defaults to `id`. */
  upstream?: string;
  /** 1 = best. */
  rank: number;
  input_price_per_mtok: number;
  output_price_per_mtok: number;
  /** Per-call deadline; default DEFAULT_TIMEOUT_MS. */
  timeout_ms?: number;
  /**
   * Declared speed, 1 = fastest: `speed` mode's order until the models' latency
   * has been observed (a fresh instance would otherwise start with a slow one).
   */
  speed_rank?: number;
}

export interface ProviderConfig {
  name: string;
  kind: "openai";
  base_url: string;
  api_key?: string;
  models: ModelConfig[];
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const MAX_TIMEOUT_MS = 600_000;

/**
 * The one rule for a model id: what a configured model may be called, and so what every request
 * field naming a model accepts (routes' `ModelId` is built from these two).
 */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:\/-]*$/;
export const MODEL_ID_MAX_LENGTH = 128;

const modelConfigSchema = z.strictObject({
  id: z.string().regex(MODEL_ID_PATTERN, "letters, digits and ._:/- only").max(
    MODEL_ID_MAX_LENGTH,
    "letters, digits and ._:/- only",
  ),
  upstream: z.string().min(1).max(256).optional(),
  rank: z.number().int().min(1),
  input_price_per_mtok: z.number().nonnegative(),
  output_price_per_mtok: z.number().nonnegative(),
  timeout_ms: z.number().int().min(100).max(MAX_TIMEOUT_MS).optional(),
  speed_rank: z.number().int().min(1).optional(),
});

const providerConfigSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits and ._- only"),
  // Optional in JSON for convenience; only OpenAI-compatible upstreams exist today.
  kind: z.literal("openai").default("openai"),
  base_url: z.url({ protocol: /^https?$/ }),
  api_key: z.string().min(1).optional(),
  models: z.array(modelConfigSchema).min(1),
});

/**
 * Schema of the `LLM_PROVIDERS` env var (a JSON array). Strict objects so a
 * typo such as `timeoutMs` fails loudly instead of being ignored; model ids and
 * provider names must be unique ("echo" is reserved for the built-in provider).
 */
export const llmProvidersSchema: z.ZodType<ProviderConfig[]> = z
  .array(providerConfigSchema)
  .superRefine((providers, ctx) => {
    const names = new Set<string>();
    const ids = new Set<string>();
    providers.forEach((p, i) => {
      if (p.name === "echo" || names.has(p.name)) {
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `duplicate or reserved provider name "${p.name}"`,
        });
      }
      names.add(p.name);
      p.models.forEach((m, j) => {
        if (ids.has(m.id)) {
          ctx.addIssue({
            code: "custom",
            path: [i, "models", j, "id"],
            message: `duplicate model id "${m.id}"`,
          });
        }
        ids.add(m.id);
      });
    });
  });
