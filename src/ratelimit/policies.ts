import { createHash } from "node:crypto";
import type { Principal } from "../auth/principal.ts";
import type { Logger } from "../log.ts";
import { limitAll } from "./limiter.ts";
import {
  type LimitOutcome,
  type LimitWindow,
  mostConstrained,
  type RateLimiterStore,
} from "./outcome.ts";
import type { TierLimits } from "./tiers.ts";
import { windowsFor } from "./tiers.ts";

/** The outcome of one policy check, ready to become headers or a 429. */
export interface Decision {
  outcomes: LimitOutcome[];
  success: boolean;
  /** The backend could not answer; strict callers refuse, others pass. */
  timedOut: boolean;
  /** What was limited, for the 429 body: "api_key", "user", "ip", "login-account"... */
  scope: string;
}

const LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60;
const FAIL_OPEN_WARNING_INTERVAL_MS = 60_000;

/**
 * Every rate-limit policy of the service, over one store. Limiter instances are
 * created once inside the store and reused across requests.
 */
export class RateLimitPolicies {
  #lastFailOpenWarning = 0;

  constructor(
    readonly store: RateLimiterStore,
    private readonly tiers: Record<string, TierLimits>,
    private readonly settings: { ipPerMinute: number; loginFailuresPerAccount: number },
    private readonly log: Logger,
  ) {}

  /** Minute and day windows of the caller: per-key overrides, else the tier. */
  windowsOf(principal: Principal): LimitWindow[] {
    const tier = this.tiers[principal.tier] ?? this.tiers.free ??
      { per_minute: 60, per_day: 1000 };
    return windowsFor({
      per_minute: principal.rateLimitPerMinute ?? tier.per_minute,
      per_day: principal.rateLimitPerDay ?? tier.per_day,
    });
  }

  async principal(principal: Principal): Promise<Decision> {
    const scope = principal.type === "api_key" ? "api_key" : "user";
    const identifier = principal.apiKeyId ?? principal.userId;
    const result = await limitAll(this.store, scope, this.windowsOf(principal), identifier);
    if (result.timedOut) this.#warnFailOpen(scope);
    return { outcomes: result.outcomes, success: result.success, timedOut: result.timedOut, scope };
  }

  /** register + login + refresh together, per client IP. */
  async clientIp(ip: string): Promise<Decision> {
    const window = { name: "minute", limit: this.settings.ipPerMinute, windowSeconds: 60 };
    const outcome = await this.store.limit("ip", window, ip);
    return {
      outcomes: [outcome],
      success: outcome.success,
      timedOut: outcome.timedOut,
      scope: "ip",
    };
  }

  /**
   * Whether a login for `email` from `ip` may even be checked. Failures are
   * counted per (account, IP) and per account; the account-wide budget does not
   * apply from networks the owner has logged in from before, so a stranger
   * cannot lock the owner out of their own network.
   */
  async loginAllowed(email: string, ip: string, knownNetwork: boolean): Promise<Decision | null> {
    const account = accountKey(email);
    const window = this.#failureWindow();
    const [pair, accountWide] = await Promise.all([
      this.store.peek("login-account-ip", window, `${account}:${ip}`),
      this.store.peek("login-account", window, account),
    ]);
    for (
      const [outcome, scope] of [[pair, "login-account-ip"], [
        accountWide,
        "login-account",
      ]] as const
    ) {
      if (outcome.timedOut) return { outcomes: [outcome], success: true, timedOut: true, scope };
    }
    if (!pair.success) {
      return { outcomes: [pair], success: false, timedOut: false, scope: "login-account-ip" };
    }
    if (!accountWide.success && !knownNetwork) {
      return { outcomes: [accountWide], success: false, timedOut: false, scope: "login-account" };
    }
    return null;
  }

  /**
   * Counts a failed login. Returns true for the one failure that used up the
   * account-wide budget (the limiter counts atomically, so exactly one caller
   * sees the last unit go, on any number of instances).
   */
  async recordLoginFailure(email: string, ip: string): Promise<boolean> {
    const account = accountKey(email);
    const window = this.#failureWindow();
    const [, accountWide] = await Promise.all([
      this.store.limit("login-account-ip", window, `${account}:${ip}`),
      this.store.limit("login-account", window, account),
    ]);
    return accountWide.success && !accountWide.timedOut && accountWide.remaining === 0;
  }

  #failureWindow(): LimitWindow {
    return {
      name: "login_failures",
      limit: this.settings.loginFailuresPerAccount,
      windowSeconds: LOGIN_FAILURE_WINDOW_SECONDS,
    };
  }

  #warnFailOpen(scope: string): void {
    const now = Date.now();
    if (now - this.#lastFailOpenWarning < FAIL_OPEN_WARNING_INTERVAL_MS) return;
    this.#lastFailOpenWarning = now;
    this.log.warn("rate limiter unavailable; letting requests through", {
      scope,
      backend: this.store.kind,
    });
  }
}

/** Emails never reach the limiter backend in clear text. */
function accountKey(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 32);
}

export { mostConstrained };
