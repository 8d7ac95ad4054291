/**
 * Spend counters: one per (policy, scope, subject, period), holding what was
 * settled (`used`) and the reservations in flight. A reservation is checked
 * against every applicable limit and recorded on all of them in ONE atomic
 * operation of the backend: a Lua script on Redis (plain or Upstash), a
 * synchronous block in memory. Two instances sharing a Redis can therefore
 * never both admit the last slice of a budget.
 *
 * Reservations carry an expiry (the model's timeout and a margin): one left by
 * a crashed process stops holding budget back once it expires, and its real
 * usage is billed by the crash sweep at the next start.
 *
 * A counter that does not exist (new period, Redis flushed or restarted) is
 * reported as missing instead of being read as zero; the caller rebuilds it
 * from the ledger and passes the values as `init` on a second attempt.
 */
import type { ScriptRunner } from "../ratelimit/outcome.ts";

export interface CounterSpec {
  key: string;
  /** null: no limit applies, the counter is only kept (e.g. for a budget set later). */
  limit: number | null;
  /** What this reservation adds (tokens or micro-dollars). */
  amount: number;
  /** Value to create a missing counter with (rebuilt from the ledger); null: unknown. */
  init: number | null;
  /** Unix seconds after which the counter may be dropped (its period is over). */
  expireAt: number;
}

export interface CounterState {
  used: number;
  /** Reservations in flight, this one excluded. */
  reserved: number;
  /** The limit would be exceeded by this reservation. */
  refused: boolean;
}

export type ReserveResult =
  | { kind: "missing"; missing: number[] }
  | { kind: "admitted" | "refused"; states: CounterState[] };

export interface SpendCounters {
  readonly kind: "memory" | "redis" | "upstash";
  /**
   * Admits when every limited counter has room (used + reserved + amount <=
   * limit) and then records the reservation on every counter; all or nothing.
   * `reservationId` null only reads (amounts still decide `refused`).
   */
  reserve(
    specs: CounterSpec[],
    reservation: { id: string; expiresAtMs: number } | null,
    nowMs: number,
  ): Promise<ReserveResult>;
  /** Drops the reservation and adds what was really used, on counters that exist. */
  settle(entries: { key: string; amount: number }[], reservationId: string): Promise<void>;
}

// Hash per counter: `used`, and one field `r:<id>` = "<amount>:<expires ms>" per reservation.
const RESERVE_SCRIPT = `
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local rexp = ARGV[3]
local n = #KEYS
local missing = {}
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local init = tonumber(ARGV[3 + (i - 1) * 4 + 3])
    if init < 0 then
      missing[#missing + 1] = i
    else
      redis.call('HSET', KEYS[i], 'used', init)
      redis.call('EXPIREAT', KEYS[i], tonumber(ARGV[3 + (i - 1) * 4 + 4]))
    end
  end
end
if #missing > 0 then
  local out = {-1}
  for _, i in ipairs(missing) do out[#out + 1] = i end
  return out
end
local out = {1}
local states = {}
local refused = false
for i = 1, n do
  local base = 3 + (i - 1) * 4
  local limit = tonumber(ARGV[base + 1])
  local amount = tonumber(ARGV[base + 2])
  local fields = redis.call('HGETALL', KEYS[i])
  local used = 0
  local reserved = 0
  for j = 1, #fields, 2 do
    local f = fields[j]
    if f == 'used' then
      used = tonumber(fields[j + 1])
    elseif string.sub(f, 1, 2) == 'r:' then
      local v = fields[j + 1]
      local sep = string.find(v, ':', 1, true)
      if tonumber(string.sub(v, sep + 1)) <= now then
        redis.call('HDEL', KEYS[i], f)
      else
        reserved = reserved + tonumber(string.sub(v, 1, sep - 1))
      end
    end
  end
  local over = 0
  if limit >= 0 and used + reserved + amount > limit then
    over = 1
    refused = true
  end
  states[i] = {used, reserved, over}
end
if refused then out[1] = 0 end
if not refused and rid ~= '' then
  for i = 1, n do
    local amount = tonumber(ARGV[3 + (i - 1) * 4 + 2])
    if amount > 0 then redis.call('HSET', KEYS[i], 'r:' .. rid, amount .. ':' .. rexp) end
  end
end
for i = 1, n do
  out[#out + 1] = states[i][1]
  out[#out + 1] = states[i][2]
  out[#out + 1] = states[i][3]
end
return out
`;

const SETTLE_SCRIPT = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1])
    redis.call('HINCRBY', KEYS[i], 'used', ARGV[i + 1])
  end
end
return 1
`;

/** Counters in a Redis reached through the rate limiter's connection. */
export class ScriptSpendCounters implements SpendCounters {
  constructor(readonly kind: "redis" | "upstash", readonly scripts: ScriptRunner) {}

  async reserve(
    specs: CounterSpec[],
    reservation: { id: string; expiresAtMs: number } | null,
    nowMs: number,
  ): Promise<ReserveResult> {
    const args = [String(nowMs), reservation?.id ?? "", String(reservation?.expiresAtMs ?? 0)];
    for (const s of specs) {
      args.push(String(s.limit ?? -1), String(s.amount), String(s.init ?? -1), String(s.expireAt));
    }
    const reply = await this.scripts.run(RESERVE_SCRIPT, specs.map((s) => s.key), args);
    if (!Array.isArray(reply)) throw new Error("spend script: unexpected reply");
    const values = reply.map(Number);
    if (values[0] === -1) return { kind: "missing", missing: values.slice(1).map((i) => i - 1) };
    const states: CounterState[] = specs.map((_, i) => ({
      used: values[1 + i * 3]!,
      reserved: values[2 + i * 3]!,
      refused: values[3 + i * 3] === 1,
    }));
    return { kind: values[0] === 1 ? "admitted" : "refused", states };
  }

  async settle(entries: { key: string; amount: number }[], reservationId: string): Promise<void> {
    if (entries.length === 0) return;
    await this.scripts.run(
      SETTLE_SCRIPT,
      entries.map((e) => e.key),
      [reservationId, ...entries.map((e) => String(Math.round(e.amount)))],
    );
  }
}

interface MemoryCounter {
  used: number;
  reservations: Map<string, { amount: number; expiresAtMs: number }>;
  expireAtMs: number;
}

/** The same semantics in one process (embedded mode): each call runs without interleaving. */
export class MemorySpendCounters implements SpendCounters {
  readonly kind = "memory" as const;
  readonly #counters = new Map<string, MemoryCounter>();
  #lastSweep = 0;

  /** Forgets every counter, as a Redis FLUSHALL would (tests). */
  clear(): void {
    this.#counters.clear();
  }

  reserve(
    specs: CounterSpec[],
    reservation: { id: string; expiresAtMs: number } | null,
    nowMs: number,
  ): Promise<ReserveResult> {
    this.#sweep(nowMs);
    const missing: number[] = [];
    specs.forEach((s, i) => {
      if (this.#counters.has(s.key)) return;
      if (s.init === null) missing.push(i);
      else {
        this.#counters.set(s.key, {
          used: s.init,
          reservations: new Map(),
          expireAtMs: s.expireAt * 1000,
        });
      }
    });
    if (missing.length > 0) return Promise.resolve({ kind: "missing", missing });
    const states = specs.map((s) => {
      const counter = this.#counters.get(s.key)!;
      let reserved = 0;
      for (const [id, r] of counter.reservations) {
        if (r.expiresAtMs <= nowMs) counter.reservations.delete(id);
        else reserved += r.amount;
      }
      const refused = s.limit !== null && counter.used + reserved + s.amount > s.limit;
      return { used: counter.used, reserved, refused };
    });
    const refused = states.some((s) => s.refused);
    if (!refused && reservation) {
      specs.forEach((s) => {
        if (s.amount <= 0) return;
        this.#counters.get(s.key)!.reservations.set(reservation.id, {
          amount: s.amount,
          expiresAtMs: reservation.expiresAtMs,
        });
      });
    }
    return Promise.resolve({ kind: refused ? "refused" : "admitted", states });
  }

  settle(entries: { key: string; amount: number }[], reservationId: string): Promise<void> {
    for (const e of entries) {
      const counter = this.#counters.get(e.key);
      if (!counter) continue;
      counter.reservations.delete(reservationId);
      counter.used += Math.round(e.amount);
    }
    return Promise.resolve();
  }

  /** Drops counters of ended periods, at most once a minute (a full pass over the map). */
  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweep < 60_000) return;
    this.#lastSweep = nowMs;
    for (const [key, counter] of this.#counters) {
      if (counter.expireAtMs <= nowMs) this.#counters.delete(key);
    }
  }
}
