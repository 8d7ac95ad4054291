/**
 * Where the machine's CPU went during a scenario: the service, Postgres, Redis
 * and the load generator, in cores (CPU seconds per second). On a small machine
 * they all compete for the same cores, so a scenario that keeps every core busy
 * is bounded by the machine, not by the service alone.
 */
import { readProcFile } from "./processes.ts";

export interface CpuShares {
  /** Cores the whole machine kept busy (not idle, not iowait). */
  machine_busy: number;
  service: number;
  postgres: number;
  redis: number;
  /** autocannon and the other load clients: this process's waited-for children. */
  load_generator: number;
  /** Seconds between the two readings (a little longer than the load itself). */
  window_s: number;
}

interface Snapshot {
  at: number;
  machineBusy: number;
  service: number;
  byName: Record<"postgres" | "redis", Map<number, number>>;
  children: number;
}

let clockTicks = 100;

async function machineBusySeconds(): Promise<number> {
  const cpu = (await readProcFile("/proc/stat")).split("\n")[0]?.trim().split(/\s+/).slice(1)
    .map(Number) ?? [];
  // user nice system idle iowait irq softirq steal ...
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return (total - idle) / clockTicks;
}

async function pidsOf(name: string): Promise<number[]> {
  try {
    const out = await new Deno.Command("pgrep", { args: ["-x", name], stdout: "piped" }).output();
    return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a process and of its children that have ended: a Postgres
 * backend that exits within the window (pgbench's, at its end) leaves its CPU
 * in the postmaster's cutime and cstime, which a sum over the live processes
 * alone would miss.
 */
async function cpuSecondsWithEndedChildren(pid: number): Promise<number | null> {
  const stat = await readProcFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return Number.isFinite(ticks) ? ticks / clockTicks : null;
}

async function perPid(names: string[]): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  for (const name of names) {
    for (const pid of await pidsOf(name)) {
      const seconds = await cpuSecondsWithEndedChildren(pid);
      if (seconds !== null) result.set(pid, seconds);
    }
  }
  return result;
}

/** cutime + cstime of this process: CPU of children it has waited for. */
async function childrenSeconds(): Promise<number> {
  const stat = await readProcFile(`/proc/${Deno.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / clockTicks || 0;
}

export async function cpuSnapshot(servicePid: number): Promise<Snapshot> {
  const ticks = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
    .then((o) => Number(new TextDecoder().decode(o.stdout).trim()) || 100, () => 100);
  clockTicks = ticks;
  return {
    at: performance.now(),
    machineBusy: await machineBusySeconds(),
    service: (await cpuSecondsWithEndedChildren(servicePid)) ?? 0,
    byName: {
      postgres: await perPid(["postgres"]),
      redis: await perPid(["redis-server", "valkey-server"]),
    },
    children: await childrenSeconds(),
  };
}

export function cpuShares(before: Snapshot, after: Snapshot): CpuShares {
  const seconds = (after.at - before.at) / 1000;
  const cores = (delta: number) => Math.round((delta / seconds) * 100) / 100;
  const summed = (name: "postgres" | "redis") => {
    let total = 0;
    for (const [pid, value] of after.byName[name]) {
      total += value - (before.byName[name].get(pid) ?? 0);
    }
    return total;
  };
  return {
    machine_busy: cores(after.machineBusy - before.machineBusy),
    service: cores(after.service - before.service),
    postgres: cores(summed("postgres")),
    redis: cores(summed("redis")),
    load_generator: cores(after.children - before.children),
    window_s: Math.round(seconds * 1000) / 1000,
  };
}
