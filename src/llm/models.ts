/**
 * Model registry: which models exist, who serves them, what they cost, and how
 * healthy they currently are. Built once at startup from `LlmSettings`.
 *
 * Configuration (`LLM_PROVIDERS`, JSON) is parsed by the app's config module
 * with `llmProvidersSchema` into `ProviderConfig[]`.
 */
import { z } from "zod";
import { DEFAULT_ECHO_MODELS, EchoProvider } from "./echo_provider.ts";
import { UnknownModelError } from "./errors.ts";
import {
  type FailureContext,
  type HealthOptions,
  type HealthSnapshot,
  ModelHealth,
} from "./health.ts";
import { OpenAIProvider } from "./openai_provider.ts";
import type { LlmProvider, TokenUsage } from "./provider.ts";

// ---------------------------------------------------------------- configuration

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

export interface LlmSettings {
  providers: ProviderConfig[];
  /** Resolved by the config module: true when no providers or ECHO_MODELS=true. */
  echoModels: boolean;
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

// ---------------------------------------------------------------- registry

export interface ModelInfo {
  id: string;
  provider: string;
  upstream: string;
  rank: number;
  prices: { input_per_mtok: number; output_per_mtok: number };
  timeout_ms: number;
  /** Declared speed (1 = fastest), null when not declared. */
  speed_rank: number | null;
  /** Served by a built-in fake provider (echo); label it in the API. */
  development: boolean;
}

export type ModelWithHealth = ModelInfo & { health: HealthSnapshot };

/** Provider instances with the models they serve (mirrors ProviderConfig). */
export interface ProviderEntry {
  provider: LlmProvider;
  models: ModelConfig[];
}

interface Registered {
  info: ModelInfo;
  provider: LlmProvider;
  health: ModelHealth;
}

export class ModelRegistry {
  readonly #models = new Map<string, Registered>();

  /** Production wiring: one OpenAIProvider per configured provider, plus the echo models. */
  static fromSettings(settings: LlmSettings, health?: HealthOptions): ModelRegistry {
    const entries: ProviderEntry[] = settings.providers.map((p) => ({
      provider: new OpenAIProvider({
        name: p.name,
        baseUrl: p.base_url,
        apiKey: p.api_key,
        timeoutMs: Math.max(...p.models.map((m) => m.timeout_ms ?? DEFAULT_TIMEOUT_MS)),
      }),
      models: p.models,
    }));
    if (settings.echoModels) entries.push(echoEntry());
    return new ModelRegistry(entries, health);
  }

  /** Throws on duplicate model ids (a configuration error worth failing startup for). */
  constructor(entries: ProviderEntry[], health?: HealthOptions) {
    for (const { provider, models } of entries) {
      for (const m of models) {
        if (this.#models.has(m.id)) throw new Error(`duplicate model id "${m.id}"`);
        const info: ModelInfo = {
          id: m.id,
          provider: provider.name,
          upstream: m.upstream ?? m.id,
          rank: m.rank,
          prices: {
            input_per_mtok: m.input_price_per_mtok,
            output_per_mtok: m.output_price_per_mtok,
          },
          timeout_ms: m.timeout_ms ?? DEFAULT_TIMEOUT_MS,
          speed_rank: m.speed_rank ?? null,
          development: provider.development,
        };
        this.#models.set(m.id, {
          info: deepFreeze(info),
          provider,
          health: new ModelHealth(health),
        });
      }
    }
  }

  /** All models, best rank first (ties by id, so the order is stable). */
  list(): ModelInfo[] {
    return [...this.#models.values()].map((r) => r.info).sort(byRank);
  }

  /** `list()` plus each model's current health, for a models endpoint. */
  listWithHealth(): ModelWithHealth[] {
    return this.list().map((info) => ({ ...info, health: this.health(info.id) }));
  }

  get(id: string): ModelInfo | undefined {
    return this.#models.get(id)?.info;
  }

  has(id: string): boolean {
    return this.#models.has(id);
  }

  provider(id: string): LlmProvider {
    return this.#require(id).provider;
  }

  /** Health for everyone, or as `principal` sees it (its own breaker included). */
  health(id: string, principal?: string): HealthSnapshot {
    return this.#require(id).health.snapshot(principal);
  }

  recordSuccess(id: string, latencyMs: number, principal?: string): void {
    this.#require(id).health.recordSuccess(latencyMs, principal);
  }

  recordFailure(id: string, context: FailureContext = {}): void {
    this.#require(id).health.recordFailure(context);
  }

  #require(id: string): Registered {
    const r = this.#models.get(id);
    if (!r) throw new UnknownModelError([id]);
    return r;
  }
}

/**
 * Nominal prices of the default echo models (USD per million tokens), so that
 * budgets can be tried without a provider. Nothing is ever charged by anyone.
 */
const ECHO_PRICES: Record<string, { input_price_per_mtok: number; output_price_per_mtok: number }> =
  {
    "echo-smart": { input_price_per_mtok: 1, output_price_per_mtok: 4 },
    "echo-fast": { input_price_per_mtok: 0.1, output_price_per_mtok: 0.4 },
  };

/** The built-in echo provider with its default models (development-only, nominal prices). */
export function echoEntry(provider = new EchoProvider(DEFAULT_ECHO_MODELS)): ProviderEntry {
  return {
    provider,
    // Slower simulated words = slower model: that is the echo models' declared speed.
    models: provider.models.map((m) => ({
      id: m.id,
      rank: m.rank,
      speed_rank: 1 + provider.models.filter((o) => o.wordDelayMs < m.wordDelayMs).length,
      ...(ECHO_PRICES[m.id] ?? { input_price_per_mtok: 0, output_price_per_mtok: 0 }),
    })),
  };
}

export function byRank(a: ModelInfo, b: ModelInfo): number {
  return a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Cost of a call in micro-dollars (integer): tokens × USD per million tokens is
 * exactly micro-dollars per token. Rounded to the nearest micro-dollar, so sums
 * carry no float drift; `roundUp` for reservations (never below the real cost).
 */
export function costMicroUsd(
  model: Pick<ModelInfo, "prices">,
  usage: TokenUsage,
  roundUp = false,
): number {
  const raw = usage.input_tokens * model.prices.input_per_mtok +
    usage.output_tokens * model.prices.output_per_mtok;
  // The epsilon keeps float noise (0.1 × 3 = 0.30000000000000004) from rounding up a whole unit.
  return roundUp ? Math.ceil(raw - 1e-9) : Math.round(raw);
}

/** USD cost of a call, exact to 6 decimals (micro-dollars). */
export function costUsd(model: ModelInfo, usage: TokenUsage): number {
  return costMicroUsd(model, usage) / 1_000_000;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === "object") deepFreeze(v);
  return Object.freeze(o);
}
