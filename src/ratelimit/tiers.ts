/** The windows a tier's quotas (`src/config_tiers.ts`, from `RATE_LIMIT_TIERS`) enforce. */
import type { TierLimits } from "../config_tiers.ts";
import type { LimitWindow } from "./outcome.ts";
export {
  DEFAULT_TIERS,
  DEFAULT_TOKENS_PER_DAY,
  parseRateLimitTiers,
  RateLimitTiersSchema,
  type TierLimits,
  TierLimitsSchema,
} from "../config_tiers.ts";

/** The windows enforced for a tier, most granular first. */
export function windowsFor(limits: Pick<TierLimits, "per_minute" | "per_day">): LimitWindow[] {
  return [
    { name: "minute", limit: limits.per_minute, windowSeconds: 60 },
    { name: "day", limit: limits.per_day, windowSeconds: 86_400 },
  ];
}
