import { createHash } from "node:crypto";
import type { Principal } from "../principal.ts";
import type { Logger } from "../log.ts";
import { LeasedBudgets } from "./leases.ts";
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

/** One budget a call counts against: a set of windows under one identifier. */
export interface Budget {
  scope: "user" | "api_key";
  identifier: string;
  windows: LimitWindow[];
}

const LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60;
const FAIL_OPEN_WARNING_INTERVAL_MS = 60_000;

/**
 * Every rate-limit policy of the service, over one store. Limiter instances are
 * created once inside the store and reused across requests.
 */
export class RateLimitPolicies {
  #lastFailOpenWarning = 0;
  /** Per-request budgets on a networked store are leased (leases.ts); memory is local anyway. */
  readonly #leases: LeasedBudgets | undefined;
  readonly #tierWindows = new Map<string, LimitWindow[]>();

  constructor(
    readonly store: RateLimiterStore,
    private readonly tiers: Record<string, TierLimits>,
    private readonly settings: {
      ipPerMinute: number;
      loginFailuresPerAccount: number;
      /** The store's key namespace, which leases share. */
      prefix: string;
    },
    private readonly log: Logger,
  ) {
    this.#leases = store.scripts && store.kind !== "memory"
      ? new LeasedBudgets(store.scripts, {
        prefix: settings.prefix,
        onError: (error) => log.debug("rate limit lease error", { error }),
      })
      : undefined;
  }

  /** Gives back what this instance leased and did not spend (the store stays open). */
  async close(): Promise<void> {
    await this.#leases?.close();
  }

  /** The minute and day windows of a tier (unknown tiers count as free); made once per tier. */
  tierWindows(tier: string): LimitWindow[] {
    let windows = this.#tierWindows.get(tier);
    if (!windows) {
      const limits = this.tiers[tier] ?? this.tiers.free ??
        { per_minute: 60, per_day: 1000, tokens_per_day: 200_000 };
      windows = windowsFor(limits);
      this.#tierWindows.set(tier, windows);
    }
    return windows;
  }

  /**
   * The budgets a call counts against. A user's sessions and keys share one
   * budget (the user's tier, keyed by user id), so minting keys never adds
   * quota. Only a key an admin gave its own tier counts apart, under its own
   * id. A key's per-minute/per-day overrides only narrow: they add a window of
   * the key's own, never above the budget it uses.
   */
  budgetsOf(principal: Principal): Budget[] {
    const tierWindows = this.tierWindows(principal.tier);
    const keyId = principal.type === "api_key" ? principal.apiKeyId : undefined;
    const overrides: Record<string, number | undefined> = {
      minute: principal.rateLimitPerMinute,
      day: principal.rateLimitPerDay,
    };
    const narrowed = tierWindows.flatMap((w) => {
      const override = overrides[w.name];
      return override === undefined ? [] : [{ ...w, limit: Math.min(w.limit, override) }];
    });
    if (keyId && principal.ownBudget) {
      const windows = tierWindows.map((w) => narrowed.find((n) => n.name === w.name) ?? w);
      return [{ scope: "api_key", identifier: keyId, windows }];
    }
    const budgets: Budget[] = [{
      scope: "user",
      identifier: principal.userId,
      windows: tierWindows,
    }];
    if (keyId && narrowed.length > 0) {
      budgets.push({ scope: "api_key", identifier: keyId, windows: narrowed });
    }
    return budgets;
  }

  /** One request of `principal` against every budget it counts against. */
  async principal(principal: Principal): Promise<Decision> {
    const budgets = this.budgetsOf(principal);
    const leases = this.#leases;
    const results = await Promise.all(
      budgets.map((b) =>
        leases
          ? leases.take(b.scope, b.windows, b.identifier)
          : limitAll(this.store, b.scope, b.windows, b.identifier)
      ),
    );
    // One outcome per window name (the tighter one), so the headers name each window once.
    const byName = new Map<string, { outcome: LimitOutcome; scope: string }>();
    results.forEach((result, i) => {
      for (const outcome of result.outcomes) {
        const seen = byName.get(outcome.window.name);
        if (!seen || tighter(outcome, seen.outcome)) {
          byName.set(outcome.window.name, { outcome, scope: budgets[i]!.scope });
        }
      }
    });
    const outcomes = [...byName.values()].map((v) => v.outcome);
    const tightest = mostConstrained(outcomes);
    const scope = [...byName.values()].find((v) => v.outcome === tightest)!.scope;
    const timedOut = results.some((r) => r.timedOut);
    if (timedOut) this.#warnFailOpen(scope);
    return { outcomes, success: results.every((r) => r.success), timedOut, scope };
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
   * Takes one failed-login slot for `email` from `ip` BEFORE the password is
   * checked, so parallel guesses cannot all be checked while the budget is
   * read: the store's take is atomic, and at most N passwords are ever checked
   * per window per (account, IP) and per account. Give the slot back when the
   * password was right. The account-wide budget does not apply from networks
   * the owner has logged in from before, so a stranger cannot lock the owner
   * out of their own network.
   */
  async takeLoginSlot(email: string, ip: string, knownNetwork: boolean): Promise<LoginSlot> {
    const account = accountKey(email);
    const window = this.#failureWindow();
    const pairId = `${account}:${ip}`;
    const pair = await this.store.limit("login-account-ip", window, pairId);
    if (pair.timedOut || !pair.success) {
      return { kind: "refused", decision: loginDecision(pair, "login-account-ip") };
    }
    const giveBackPair = () => this.store.refund("login-account-ip", window, pairId);
    const accountWide = await this.store.limit("login-account", window, account);
    if (accountWide.timedOut || (!accountWide.success && !knownNetwork)) {
      await giveBackPair().catch(() => {});
      return { kind: "refused", decision: loginDecision(accountWide, "login-account") };
    }
    const tookAccount = accountWide.success;
    return {
      kind: "taken",
      accountExhausted: tookAccount && accountWide.remaining === 0,
      giveBack: async () => {
        await Promise.all([
          giveBackPair(),
          tookAccount ? this.store.refund("login-account", window, account) : undefined,
        ]);
      },
    };
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

/** A failed-login slot: refused (429, or 503 when the backend could not answer) or taken. */
export type LoginSlot =
  | { kind: "refused"; decision: Decision }
  | {
    kind: "taken";
    /** This attempt took the account-wide budget's last slot. */
    accountExhausted: boolean;
    /** The password was right: the attempt was no failure. */
    giveBack(): Promise<void>;
  };

/**
 * Whether `a` constrains more than `b` (same window name, two budgets): a
 * denial beats an admission; then the later reset; then the narrower limit
 * (a key's own override over the shared budget it narrows).
 */
function tighter(a: LimitOutcome, b: LimitOutcome): boolean {
  if (a.success !== b.success) return !a.success;
  if (a.success && a.remaining !== b.remaining) return a.remaining < b.remaining;
  if (a.reset !== b.reset) return a.reset > b.reset;
  return a.window.limit < b.window.limit;
}

function loginDecision(outcome: LimitOutcome, scope: string): Decision {
  return { outcomes: [outcome], success: outcome.success, timedOut: outcome.timedOut, scope };
}

/** Emails never reach the limiter backend in clear text. */
function accountKey(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 32);
}

export { mostConstrained };
