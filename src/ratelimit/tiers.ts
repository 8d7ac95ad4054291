/**
 * Per-tier quotas from `RATE_LIMIT_TIERS`, e.g.
 *   {"free": {"per_minute": 30}, "startup": {"per_minute": 300, "per_day": 5000}}
 *
 * The JSON is merged over the built-in defaults, field by field: overriding one number of a
 * known tier keeps the other, and new tiers must define both. Invalid input throws with a
 * readable message so a misconfigured deployment fails at boot, not under load.
 */
import { z } from "zod";
import type { LimitWindow } from "./outcome.ts";

const quota = z.number().int().positive();
/** USD, at most 6 decimals (budgets are kept in micro-dollars). */
const usd = z.number().positive().max(1e9).refine(
  (v) => Math.abs(Math.round(v * 1e6) - v * 1e6) < 1e-6,
  "at most 6 decimals",
);

/**
 * Requests per minute and day, and the spend quotas: tokens per UTC day
 * (input + output) and optional USD per UTC day / month, all per user.
 */
export const TierLimitsSchema = z.strictObject({
  per_minute: quota,
  per_day: quota,
  tokens_per_day: quota,
  usd_per_day: usd.optional(),
  usd_per_month: usd.optional(),
});
export type TierLimits = z.infer<typeof TierLimitsSchema>;

/** tokens_per_day of a tier defined in RATE_LIMIT_TIERS without one (the free tier's). */
export const DEFAULT_TOKENS_PER_DAY = 200_000;

const TierNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/i, "invalid tier name");

/** Shape of RATE_LIMIT_TIERS: every field optional so partial overrides are possible. */
export const RateLimitTiersSchema = z.record(TierNameSchema, TierLimitsSchema.partial());

export const DEFAULT_TIERS: Readonly<Record<string, Readonly<TierLimits>>> = Object.freeze({
  free: Object.freeze({ per_minute: 60, per_day: 1000, tokens_per_day: 200_000 }),
  pro: Object.freeze({ per_minute: 600, per_day: 20000, tokens_per_day: 5_000_000 }),
  enterprise: Object.freeze({ per_minute: 1000, per_day: 100000, tokens_per_day: 50_000_000 }),
});

/** Parses RATE_LIMIT_TIERS (unset/blank -> defaults). Throws Error on invalid input. */
export function parseRateLimitTiers(raw: string | undefined): Record<string, TierLimits> {
  const tiers: Record<string, TierLimits> = {};
  for (const [name, limits] of Object.entries(DEFAULT_TIERS)) tiers[name] = { ...limits };
  if (raw === undefined || raw.trim() === "") return tiers;

  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new Error(`RATE_LIMIT_TIERS is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = RateLimitTiersSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`RATE_LIMIT_TIERS is invalid:\n${z.prettifyError(parsed.error)}`);
  }

  for (const [name, override] of Object.entries(parsed.data)) {
    const base = Object.hasOwn(tiers, name)
      ? tiers[name]
      : { tokens_per_day: DEFAULT_TOKENS_PER_DAY };
    const merged = { ...base, ...stripUndefined(override) };
    const complete = TierLimitsSchema.safeParse(merged);
    if (!complete.success) {
      throw new Error(
        `RATE_LIMIT_TIERS: tier "${name}" is not a default tier and must set per_minute and per_day`,
      );
    }
    tiers[name] = complete.data;
  }
  return tiers;
}

/** The windows enforced for a tier, most granular first. */
export function windowsFor(limits: Pick<TierLimits, "per_minute" | "per_day">): LimitWindow[] {
  return [
    { name: "minute", limit: limits.per_minute, windowSeconds: 60 },
    { name: "day", limit: limits.per_day, windowSeconds: 86_400 },
  ];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}
