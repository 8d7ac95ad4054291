/**
 * Spend control: token quotas and USD budgets per user and per API key.
 *
 * Every model call is reserved before it goes upstream (worst case: the
 * estimated prompt plus the output cap, and their cost at the model's prices)
 * against every applicable limit in one atomic operation of the limiter
 * backend, and settled to what was really used afterwards. The ledger row is
 * written at reservation (`pending`) and completed at settlement, so a crash
 * in between leaves a row the next start closes and bills.
 *
 * Limits (UTC periods): tokens_per_day of the user's tier; usd_per_day and
 * usd_per_month of the user (the stricter of tier and admin-set budget); the
 * key's own usd budgets. A user's limits cover all of their credentials.
 */
import type { Principal } from "../principal.ts";
import type { Sql } from "../db/client.ts";
import { closeStalePendingMessages } from "../db/messages.ts";
import {
  insertPendingUsage,
  settleUsage,
  type SpendTotals,
  spendTotals,
  stalePendingUsage,
} from "../db/usage.ts";
import { spendSettingsOf } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import {
  type CallGate,
  type CallOutcome,
  CallRefusedError,
  type CallTicket,
  costMicroUsd,
  type GatedModel,
  type ModelRegistry,
  type PlannedCall,
} from "../llm/mod.ts";
import type { Logger } from "../log.ts";
import type { GatehouseMetrics } from "../metrics/gatehouse.ts";
import type { TierLimits } from "../ratelimit/tiers.ts";
import type { CounterSpec, CounterState, SpendCounters } from "./counters.ts";

export type SpendPolicy = "tokens_per_day" | "usd_per_day" | "usd_per_month";
export type SpendScope = "user" | "api_key";

/** One limit as observers, getQuotas and 429 details see it (USD as dollars, times unix s). */
export interface LimitSnapshot {
  user_id: string;
  api_key_id: string | null;
  policy: SpendPolicy;
  scope: SpendScope;
  unit: "tokens" | "usd";
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  period_start: number;
  reset: number;
}

/**
 * Told after each settlement (every limited counter the call touched) and
 * each refusal (the limit that refused). Called off the request path: an
 * observer can neither block nor fail a request.
 */
export interface SpendObserver {
  onSettled?(snapshots: LimitSnapshot[]): void | Promise<void>;
  onRefused?(snapshot: LimitSnapshot): void | Promise<void>;
}

/** The limits of a subject right now, in tokens and micro-dollars (null: none). */
export interface SpendLimits {
  userId: string;
  apiKeyId: string | null;
  tokensPerDay: number | null;
  userMicroUsdPerDay: number | null;
  userMicroUsdPerMonth: number | null;
  keyMicroUsdPerDay: number | null;
  keyMicroUsdPerMonth: number | null;
}

export interface SpendOptions {
  sql: Sql;
  counters: SpendCounters;
  tiers: Record<string, TierLimits>;
  models: ModelRegistry;
  log: Logger;
  metrics: GatehouseMetrics;
  /** Counter key namespace (RATE_LIMIT_PREFIX). */
  prefix: string;
  /** SPEND_FAIL_OPEN: admit model calls when the limiter cannot be asked. */
  failOpen: boolean;
  now?: () => number;
}

/** How long after a model's timeout a reservation stops holding budget back. */
const RESERVATION_MARGIN_MS = 60_000;
/** Beyond a model's timeout, how old a pending call must be to count as crashed. */
const STALE_MARGIN_MS = 2_000;
/** Counters outlive their period by this long (late settlements still find them). */
const COUNTER_GRACE_S = 86_400;

interface Counter {
  policy: SpendPolicy;
  scope: SpendScope;
  key: string;
  limit: number | null;
  periodStart: number;
  reset: number;
  /** The ledger total that rebuilds it. */
  total: keyof SpendTotals;
}

export class SpendService {
  readonly #o: SpendOptions;
  readonly #observers: SpendObserver[] = [];
  readonly #now: () => number;

  constructor(options: SpendOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get counters(): SpendCounters {
    return this.#o.counters;
  }

  /** Adds an observer (e.g. the webhooks outbox for `quota.threshold`). */
  observe(observer: SpendObserver): void {
    this.#observers.push(observer);
  }

  /** The caller's limits, read from the database now (budgets change at any time). */
  async limitsOf(principal: Pick<Principal, "userId" | "apiKeyId">): Promise<SpendLimits> {
    const row = await spendSettingsOf(this.#o.sql, principal.userId, principal.apiKeyId ?? null);
    const tier = (row && this.#o.tiers[row.tier]) ?? this.#o.tiers.free;
    const micro = (usd: number | string | null | undefined) =>
      usd === null || usd === undefined ? null : Math.round(Number(usd) * 1e6);
    const stricter = (a: number | null, b: number | null) =>
      a === null ? b : b === null ? a : Math.min(a, b);
    return {
      userId: principal.userId,
      apiKeyId: principal.apiKeyId ?? null,
      tokensPerDay: tier?.tokens_per_day ?? null,
      userMicroUsdPerDay: stricter(micro(tier?.usd_per_day), micro(row?.user_usd_per_day)),
      userMicroUsdPerMonth: stricter(micro(tier?.usd_per_month), micro(row?.user_usd_per_month)),
      keyMicroUsdPerDay: micro(row?.key_usd_per_day),
      keyMicroUsdPerMonth: micro(row?.key_usd_per_month),
    };
  }

  /**
   * The gate a turn hands to the router: every model call it makes is
   * reserved and settled against `limits`, its row linked to `conversationId`.
   */
  gate(limits: SpendLimits, conversationId: string | null): CallGate {
    return { reserve: (call) => this.#reserve(limits, conversationId, call) };
  }

  /** Every limit that applies now, with used / reserved / remaining (getQuotas). */
  async quotas(limits: SpendLimits): Promise<LimitSnapshot[]> {
    const now = this.#now();
    const counters = this.#countersOf(limits, now);
    const result = await this.#decide(limits, counters, counters.map(() => 0), null, now);
    return counters.flatMap((c, i) =>
      c.limit === null ? [] : [this.#snapshot(limits, c, result.states[i]!)]
    );
  }

  /**
   * Closes model calls left pending by a crash (older than the longest model
   * timeout): each is billed with its estimated prompt (nothing delivered is
   * known) and its answer message marked `incomplete`. Returns how many calls.
   */
  async closeStale(marginMs = STALE_MARGIN_MS): Promise<number> {
    const longest = Math.max(0, ...this.#o.models.list().map((m) => m.timeout_ms));
    // A call still running elsewhere ends (its deadline) before it is this old.
    const cutoff = new Date(this.#now() - longest - marginMs);
    const rows = await stalePendingUsage(this.#o.sql, cutoff);
    let closed = 0;
    for (const row of rows) {
      const model = this.#o.models.get(row.model);
      const usage = { input_tokens: row.prompt_tokens_estimate, output_tokens: 0 };
      const micro = model ? costMicroUsd(model, usage) : 0;
      const settled = await settleUsage(this.#o.sql, row.id, {
        inputTokens: usage.input_tokens,
        outputTokens: 0,
        costUsd: micro / 1e6,
        latencyMs: 0,
        status: "incomplete",
        source: "estimated",
      });
      if (!settled || !row.user_id) continue;
      closed += 1;
      const limits = { userId: row.user_id, apiKeyId: row.api_key_id };
      const counters = this.#countersOf(
        { ...limits, ...NO_LIMITS },
        row.occurred_at.getTime(),
      );
      try {
        await this.#o.counters.settle(
          counters.map((c) => ({
            key: c.key,
            amount: c.policy === "tokens_per_day" ? usage.input_tokens : micro,
          })),
          row.id,
        );
      } catch (error) {
        // The row is billed; the counters catch up when they are next rebuilt.
        this.#o.log.warn("spend: could not settle a recovered call on the limiter", { error });
      }
    }
    const messages = await closeStalePendingMessages(this.#o.sql, cutoff);
    if (closed > 0 || messages > 0) {
      this.#o.log.warn("spend: closed calls left pending by a crashed instance", {
        calls: closed,
        messages,
      });
    }
    return closed;
  }

  /**
   * Keeps billing calls that a crashed instance left pending while this one
   * runs, so a crash that is never restarted loses nothing either. Swept calls
   * are at least a model timeout plus RESERVATION_MARGIN_MS old (their
   * reservations have stopped holding budget by then); settlement takes only
   * pending rows, so instances sweeping together bill each call once.
   */
  sweepEvery(intervalMs: number): () => void {
    let sweeping = false;
    const timer = setInterval(async () => {
      if (sweeping) return;
      sweeping = true;
      try {
        await this.closeStale(RESERVATION_MARGIN_MS);
      } catch (error) {
        this.#o.log.warn("spend: sweeping calls left pending failed", { error });
      } finally {
        sweeping = false;
      }
    }, intervalMs);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  }

  async #reserve(
    limits: SpendLimits,
    conversationId: string | null,
    call: PlannedCall,
  ): Promise<CallTicket> {
    const now = this.#now();
    const counters = this.#countersOf(limits, now);
    const worst = { input_tokens: call.promptTokens, output_tokens: call.outputCap };
    const tokens = call.promptTokens + call.outputCap;
    const micro = costMicroUsd(call.model, worst, true);
    const amounts = counters.map((c) => c.policy === "tokens_per_day" ? tokens : micro);
    const id = crypto.randomUUID();
    const reservation = {
      id,
      expiresAtMs: now + call.model.timeout_ms + RESERVATION_MARGIN_MS,
    };

    let admitted = true;
    try {
      const result = await this.#decide(limits, counters, amounts, reservation, now);
      if (result.kind === "refused") this.#refuse(limits, counters, result.states);
    } catch (error) {
      if (error instanceof CallRefusedError) throw error;
      if (!this.#o.failOpen) {
        this.#o.metrics.recordSpendRefusal("unavailable", "user");
        this.#o.log.warn("spend: limiter unreachable, model call refused", { error });
        throw new CallRefusedError(
          "budget_unavailable",
          "spend limits could not be checked",
          new ApiError(
            "service_unavailable",
            "Spend limits cannot be checked right now; try again shortly.",
            undefined,
            { cause: error, headers: { "Retry-After": "5" } },
          ),
        );
      }
      admitted = false;
      this.#o.log.warn("spend: limiter unreachable, admitted (SPEND_FAIL_OPEN)", { error });
    }

    try {
      await insertPendingUsage(this.#o.sql, {
        id,
        userId: limits.userId,
        apiKeyId: limits.apiKeyId,
        model: call.model.id,
        promptTokensEstimate: call.promptTokens,
        conversationId,
        occurredAt: new Date(now),
      });
    } catch (error) {
      if (admitted) await this.#release(counters, id);
      throw new CallRefusedError(
        "budget_unavailable",
        "the call could not be recorded",
        new ApiError("service_unavailable", undefined, undefined, { cause: error }),
      );
    }
    return { settle: (outcome) => this.#settle(limits, counters, id, call.model, outcome) };
  }

  /** One atomic decision; a missing counter is rebuilt from the ledger and asked again. */
  async #decide(
    limits: SpendLimits,
    counters: Counter[],
    amounts: number[],
    reservation: { id: string; expiresAtMs: number } | null,
    now: number,
  ): Promise<{ kind: "admitted" | "refused"; states: CounterState[] }> {
    const specs: CounterSpec[] = counters.map((c, i) => ({
      key: c.key,
      limit: c.limit,
      amount: amounts[i]!,
      init: null,
      expireAt: c.reset + COUNTER_GRACE_S,
    }));
    const first = await this.#o.counters.reserve(specs, reservation, now);
    if (first.kind !== "missing") return first;
    const totals = await spendTotals(this.#o.sql, {
      userId: limits.userId,
      apiKeyId: limits.apiKeyId,
      dayStart: new Date(dayStart(now) * 1000),
      monthStart: new Date(monthStart(now) * 1000),
    });
    const rebuilt = specs.map((s, i) => ({ ...s, init: totals[counters[i]!.total] }));
    const second = await this.#o.counters.reserve(rebuilt, reservation, now);
    if (second.kind === "missing") throw new Error("spend counters vanished while rebuilt");
    return second;
  }

  #refuse(limits: SpendLimits, counters: Counter[], states: CounterState[]): never {
    // Of the limits that refuse, name the one that stays closed longest.
    let worst = -1;
    states.forEach((s, i) => {
      if (s.refused && (worst < 0 || counters[i]!.reset > counters[worst]!.reset)) worst = i;
    });
    const counter = counters[worst]!;
    const snapshot = this.#snapshot(limits, counter, states[worst]!);
    this.#o.metrics.recordSpendRefusal(counter.policy, counter.scope);
    this.#notify((o) => o.onRefused?.(snapshot));
    const retryAfter = Math.max(1, Math.ceil(counter.reset - this.#now() / 1000));
    const unit = counter.policy === "tokens_per_day" ? "token quota" : "budget";
    throw new CallRefusedError(
      "rate_limited",
      `${
        counter.scope === "user" ? "the user's" : "the key's"
      } ${unit} (${counter.policy}) is exhausted`,
      new ApiError(
        "rate_limited",
        `Spend limit reached: ${counter.policy} (${counter.scope}).`,
        {
          policy: snapshot.policy,
          scope: snapshot.scope,
          limit: snapshot.limit,
          remaining: snapshot.remaining,
          reset: snapshot.reset,
        },
        { headers: { "Retry-After": String(retryAfter) } },
      ),
    );
  }

  async #settle(
    limits: SpendLimits,
    counters: Counter[],
    id: string,
    model: GatedModel,
    outcome: CallOutcome,
  ): Promise<void> {
    const tokens = outcome.usage.input_tokens + outcome.usage.output_tokens;
    const micro = costMicroUsd(model, outcome.usage);
    try {
      const settled = await settleUsage(this.#o.sql, id, {
        inputTokens: outcome.usage.input_tokens,
        outputTokens: outcome.usage.output_tokens,
        costUsd: micro / 1e6,
        latencyMs: outcome.latencyMs,
        status: outcome.status === "complete" ? "complete" : outcome.status,
        source: outcome.source,
      });
      // Already closed by a crash sweep: billed there, so not again.
      if (!settled) return;
    } catch (error) {
      // The row stays pending; the sweep bills it and the reservation expires meanwhile.
      this.#o.log.error("spend: could not record a model call's usage", { error, usage_id: id });
      return;
    }
    const amounts = counters.map((c) => c.policy === "tokens_per_day" ? tokens : micro);
    try {
      await this.#o.counters.settle(
        counters.map((c, i) => ({ key: c.key, amount: amounts[i]! })),
        id,
      );
    } catch (error) {
      this.#o.log.warn("spend: could not settle on the limiter; the reservation expires", {
        error,
      });
      return;
    }
    if (this.#observers.length === 0) return;
    // Read back after settlement for observers, off the request path.
    const now = this.#now();
    queueMicrotask(() => {
      this.#decide(limits, counters, counters.map(() => 0), null, now).then((result) => {
        const snapshots = counters.flatMap((c, i) =>
          c.limit === null ? [] : [this.#snapshot(limits, c, result.states[i]!)]
        );
        if (snapshots.length > 0) this.#notify((o) => o.onSettled?.(snapshots));
      }).catch((error) => this.#o.log.debug("spend: observer read failed", { error }));
    });
  }

  async #release(counters: Counter[], id: string): Promise<void> {
    try {
      await this.#o.counters.settle(counters.map((c) => ({ key: c.key, amount: 0 })), id);
    } catch {
      // The reservation expires on its own.
    }
  }

  #notify(call: (observer: SpendObserver) => unknown): void {
    for (const observer of this.#observers) {
      queueMicrotask(() => {
        try {
          Promise.resolve(call(observer)).catch((error) =>
            this.#o.log.warn("spend observer failed", { error })
          );
        } catch (error) {
          this.#o.log.warn("spend observer failed", { error });
        }
      });
    }
  }

  #snapshot(limits: SpendLimits, c: Counter, s: CounterState): LimitSnapshot {
    const usd = c.policy !== "tokens_per_day";
    const unit = (v: number) => usd ? v / 1e6 : v;
    const limit = c.limit ?? 0;
    return {
      user_id: limits.userId,
      api_key_id: c.scope === "api_key" ? limits.apiKeyId : null,
      policy: c.policy,
      scope: c.scope,
      unit: usd ? "usd" : "tokens",
      limit: unit(limit),
      used: unit(s.used),
      reserved: unit(s.reserved),
      remaining: unit(Math.max(0, limit - s.used - s.reserved)),
      period_start: c.periodStart,
      reset: c.reset,
    };
  }

  /** The counters a call of this subject touches; all kept, limited or not. */
  #countersOf(limits: SpendLimits, now: number): Counter[] {
    const day = dayStart(now);
    const month = monthStart(now);
    const nextDay = day + 86_400;
    const nextMonth = monthStart(Date.UTC(
      new Date(now).getUTCFullYear(),
      new Date(now).getUTCMonth() + 1,
      1,
    ));
    const p = `${this.#o.prefix}:spend`;
    const counters: Counter[] = [
      {
        policy: "tokens_per_day",
        scope: "user",
        key: `${p}:tokens_per_day:user:${limits.userId}:${day}`,
        limit: limits.tokensPerDay,
        periodStart: day,
        reset: nextDay,
        total: "userTokensDay",
      },
      {
        policy: "usd_per_day",
        scope: "user",
        key: `${p}:usd_per_day:user:${limits.userId}:${day}`,
        limit: limits.userMicroUsdPerDay,
        periodStart: day,
        reset: nextDay,
        total: "userMicroUsdDay",
      },
      {
        policy: "usd_per_month",
        scope: "user",
        key: `${p}:usd_per_month:user:${limits.userId}:${month}`,
        limit: limits.userMicroUsdPerMonth,
        periodStart: month,
        reset: nextMonth,
        total: "userMicroUsdMonth",
      },
    ];
    if (limits.apiKeyId) {
      counters.push(
        {
          policy: "usd_per_day",
          scope: "api_key",
          key: `${p}:usd_per_day:api_key:${limits.apiKeyId}:${day}`,
          limit: limits.keyMicroUsdPerDay,
          periodStart: day,
          reset: nextDay,
          total: "keyMicroUsdDay",
        },
        {
          policy: "usd_per_month",
          scope: "api_key",
          key: `${p}:usd_per_month:api_key:${limits.apiKeyId}:${month}`,
          limit: limits.keyMicroUsdPerMonth,
          periodStart: month,
          reset: nextMonth,
          total: "keyMicroUsdMonth",
        },
      );
    }
    return counters;
  }
}

const NO_LIMITS = {
  tokensPerDay: null,
  userMicroUsdPerDay: null,
  userMicroUsdPerMonth: null,
  keyMicroUsdPerDay: null,
  keyMicroUsdPerMonth: null,
};

/** Unix seconds of the UTC day containing `ms`. */
export function dayStart(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400;
}

/** Unix seconds of the UTC month containing `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}
