/**
 * Leased request budgets: exact limits across instances without a Redis round
 * trip per request.
 *
 * An instance takes a share of a budget's remaining requests from Redis in one
 * atomic script (every window of the budget at once: minute and day) and spends
 * it locally. Redis counts a lease as used the moment it is granted, so the sum
 * of all instances' admissions never exceeds a limit. Leases are a fraction of
 * what is left (1/LEASE_DIVISOR, at most MAX_LEASE): near the limit a lease is a
 * single request, which is exactly the per-request check. A lease lives at most
 * LEASE_TTL_MS and never outlives its fixed windows; what an instance did not
 * spend goes back into the same window counters, so an idle instance strands
 * nothing for long.
 *
 * The keys and the sliding-window arithmetic are @upstash/ratelimit's
 * `slidingWindow` (`<prefix>:<policy>:<seconds>s:<identifier>:<window index>`),
 * so leased and unleased checks of one budget count the same requests.
 */
import {
  assertValidWindow,
  failOpenOutcome,
  type LimitOutcome,
  type LimitWindow,
  type ScriptRunner,
  windowReset,
} from "./outcome.ts";

/** An instance takes at most this share of what is left of a budget. */
export const LEASE_DIVISOR = 8;
/** The most requests one lease holds. */
export const MAX_LEASE = 256;
/** How long a lease may be spent before what is left of it goes back. */
export const LEASE_TTL_MS = 1000;

/**
 * KEYS: per window, its current then its previous fixed-window counter.
 * ARGV: now (ms), most to grant, divisor, returned (unspent requests of this
 * instance's last lease on the same current counters), then per window its
 * limit and length (ms). Returns the grant, then what each window has left.
 */
const LEASE_SCRIPT = `
local now = tonumber(ARGV[1])
local most = tonumber(ARGV[2])
local divisor = tonumber(ARGV[3])
local returned = tonumber(ARGV[4])
local count = #KEYS / 2
local left = {}
local fewest = nil
for i = 1, count do
  local limit = tonumber(ARGV[3 + 2 * i])
  local windowMs = tonumber(ARGV[4 + 2 * i])
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if returned > 0 and current > 0 then
    local back = math.min(returned, current)
    redis.call('DECRBY', KEYS[2 * i - 1], back)
    current = current - back
  end
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local weighted = math.floor((1 - (now % windowMs) / windowMs) * previous)
  left[i] = limit - current - weighted
  if fewest == nil or left[i] < fewest then fewest = left[i] end
end
local grant = 0
if fewest >= 1 then grant = math.min(most, math.max(1, math.floor(fewest / divisor))) end
local reply = { grant }
for i = 1, count do
  if grant > 0 then
    local windowMs = tonumber(ARGV[4 + 2 * i])
    if redis.call('INCRBY', KEYS[2 * i - 1], grant) == grant then
      redis.call('PEXPIRE', KEYS[2 * i - 1], windowMs * 2 + 1000)
    end
  end
  reply[i + 1] = left[i] - grant
end
return reply
`;

/** KEYS: current counters of a lease; ARGV: its unspent requests. */
const GIVE_BACK_SCRIPT = `
local back = tonumber(ARGV[1])
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current > 0 then redis.call('DECRBY', KEYS[i], math.min(back, current)) end
end
return 1
`;

export interface LeasedDecision {
  outcomes: LimitOutcome[];
  success: boolean;
  timedOut: boolean;
}

interface Lease {
  windows: readonly LimitWindow[];
  /** The counters the lease was taken from (one per window). */
  keys: string[];
  /** Requests left to spend locally. */
  unspent: number;
  /** Per window: what Redis had left once the lease was taken. */
  leftInRedis: number[];
  resets: number[];
  expiresAt: number;
  /** A refill in flight; concurrent requests wait for it instead of asking too. */
  refill?: Promise<"refilled" | "timed_out">;
  /** A refused refill is trusted this long (no round trip per refused request). */
  refusedUntil: number;
}

export interface LeaseSettings {
  /** Key namespace, the limiter's prefix (e.g. "gatehouse:rl"). */
  prefix: string;
  /** Background give-backs that failed (observability only). */
  onError?: (error: unknown) => void;
}

/** One instance's leases, keyed by budget (policy, identifier and its windows). */
export class LeasedBudgets {
  readonly #leases = new Map<string, Lease>();
  readonly #scripts: ScriptRunner;
  readonly #settings: LeaseSettings;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #sweeper: ReturnType<typeof setInterval>;

  constructor(scripts: ScriptRunner, settings: LeaseSettings) {
    this.#scripts = scripts;
    this.#settings = settings;
    this.#sweeper = setInterval(() => this.#returnIdle(Date.now()), LEASE_TTL_MS);
    Deno.unrefTimer(this.#sweeper);
  }

  /** One request against every window of a budget. */
  async take(
    policy: string,
    windows: readonly LimitWindow[],
    identifier: string,
  ): Promise<LeasedDecision> {
    const budgetKey = `${policy}\u0000${identifier}\u0000${signatureOf(windows)}`;
    let lease = this.#leases.get(budgetKey);
    if (!lease) {
      windows.forEach(assertValidWindow);
      lease = {
        windows,
        keys: [],
        unspent: 0,
        leftInRedis: [],
        resets: [],
        expiresAt: 0,
        refusedUntil: 0,
      };
      this.#leases.set(budgetKey, lease);
    }
    for (;;) {
      const now = Date.now();
      if (lease.unspent > 0 && now < lease.expiresAt) {
        lease.unspent--;
        return admitted(lease);
      }
      if (now < lease.refusedUntil) return refused(lease);
      lease.refill ??= this.#refill(lease, policy, identifier).finally(() => {
        lease.refill = undefined;
      });
      if (await lease.refill === "timed_out") {
        return { outcomes: windows.map((w) => failOpenOutcome(w)), success: true, timedOut: true };
      }
      if (lease.unspent === 0 && Date.now() < lease.refusedUntil) return refused(lease);
    }
  }

  /** Gives every unspent request back; the instance is stopping. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#returnIdle(Number.POSITIVE_INFINITY);
    await Promise.allSettled([...this.#pending]);
  }

  async #refill(
    lease: Lease,
    policy: string,
    identifier: string,
  ): Promise<"refilled" | "timed_out"> {
    const now = Date.now();
    const keys: string[] = [];
    const current: string[] = [];
    const args = [String(now), String(MAX_LEASE), String(LEASE_DIVISOR), "0"];
    for (const w of lease.windows) {
      const ms = w.windowSeconds * 1000;
      const index = Math.floor(now / ms);
      const base = `${this.#settings.prefix}:${policy}:${w.windowSeconds}s:${identifier}`;
      current.push(`${base}:${index}`);
      keys.push(`${base}:${index}`, `${base}:${index - 1}`);
      args.push(String(w.limit), String(ms));
    }
    // Unspent requests of an expired lease go back in the same round trip when
    // they came from the same counters, else on their own.
    if (lease.unspent > 0) {
      if (sameKeys(lease.keys, current)) args[3] = String(lease.unspent);
      else this.#giveBack(lease.keys, lease.unspent);
      lease.unspent = 0;
    }
    let reply: unknown;
    try {
      reply = await this.#scripts.run(LEASE_SCRIPT, keys, args);
    } catch (error) {
      report(this.#settings.onError, error);
      return "timed_out";
    }
    if (!Array.isArray(reply)) {
      report(this.#settings.onError, new Error("lease script: unexpected reply"));
      return "timed_out";
    }
    const [grant, ...left] = reply.map(Number);
    lease.keys = current;
    lease.unspent = grant!;
    lease.leftInRedis = left;
    lease.resets = lease.windows.map((w) => windowReset(w, now));
    const windowsEnd = Math.min(...lease.resets);
    lease.expiresAt = Math.min(now + LEASE_TTL_MS, windowsEnd);
    lease.refusedUntil = grant === 0 ? Math.min(now + LEASE_TTL_MS, windowsEnd) : 0;
    return "refilled";
  }

  /** Returns what leases no longer in use did not spend, and forgets them. */
  #returnIdle(now: number): void {
    for (const [key, lease] of this.#leases) {
      if (lease.refill || (now < lease.expiresAt || now < lease.refusedUntil)) continue;
      if (lease.unspent > 0) this.#giveBack(lease.keys, lease.unspent);
      this.#leases.delete(key);
    }
  }

  #giveBack(keys: string[], unspent: number): void {
    const done = this.#scripts.run(GIVE_BACK_SCRIPT, keys, [String(unspent)])
      .catch((error) => report(this.#settings.onError, error));
    this.#pending.add(done);
    void done.finally(() => this.#pending.delete(done));
  }
}

/** "limit/seconds,..." per window list; tiers hand out the same lists, so it is made once. */
const signatures = new WeakMap<readonly LimitWindow[], string>();
function signatureOf(windows: readonly LimitWindow[]): string {
  let signature = signatures.get(windows);
  if (signature === undefined) {
    signature = windows.map((w) => `${w.limit}/${w.windowSeconds}`).join(",");
    signatures.set(windows, signature);
  }
  return signature;
}

function admitted(lease: Lease): LeasedDecision {
  const outcomes = lease.windows.map((window, i) => ({
    window,
    success: true,
    remaining: Math.max(0, lease.leftInRedis[i]! + lease.unspent),
    reset: lease.resets[i]!,
    timedOut: false,
  }));
  return { outcomes, success: true, timedOut: false };
}

function refused(lease: Lease): LeasedDecision {
  const outcomes = lease.windows.map((window, i) => {
    const left = lease.leftInRedis[i]!;
    return {
      window,
      success: left > 0,
      remaining: Math.max(0, left),
      reset: lease.resets[i]!,
      timedOut: false,
    };
  });
  return { outcomes, success: false, timedOut: false };
}

function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

function report(hook: ((error: unknown) => void) | undefined, error: unknown): void {
  try {
    hook?.(error);
  } catch {
    // observability only
  }
}
