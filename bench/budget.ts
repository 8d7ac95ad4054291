/**
 * What a missed throughput target would take on this machine: each process's
 * CPU per request, measured in the scenario, times the request rate the
 * target asks for. On a small machine the load generator, Postgres and Redis
 * share the cores with the service, so a target can need more cores than the
 * machine has however fast the service gets; this shows whether it does, and
 * how cheap the service's own share would have to be.
 */
import type { CpuShares } from "./cpu_shares.ts";
import type { ScenarioResult, TargetOutcome } from "./report.ts";

type Process = "service" | "postgres" | "redis" | "load_generator";
/**
 * The service answers HTTP on one thread (Deno.serve runs handlers on the main
 * JS thread): however many cores are free, it can use one. Measured: 0.95-0.99
 * cores at saturation.
 */
const SERVICE_CORES = 1;
const PROCESSES: readonly Process[] = ["service", "postgres", "redis", "load_generator"];

export interface TargetBudget {
  scenario: string;
  title: string;
  ratio_target: number;
  /** requests/s the target means in this run (ratio × ceiling). */
  target_rps: number;
  measured_rps: number;
  /** CPU milliseconds per request of each process, as measured. */
  cpu_ms_per_request: Record<Process, number>;
  /** Cores each process would need at `target_rps`, and their sum. */
  cores_needed: Record<Process | "total", number>;
  cores_available: number;
  /**
   * The service's CPU per request that would fit on the machine with the
   * others at their measured cost, within its one thread (null: they alone
   * exceed the machine).
   */
  service_ms_budget: number | null;
}

export function targetBudgets(
  results: readonly ScenarioResult[],
  outcomes: readonly TargetOutcome[],
  ceilingRps: number,
  coresAvailable: number,
): TargetBudget[] {
  return outcomes.flatMap((outcome) => {
    if (outcome.pass || outcome.metric !== "ratio") return [];
    const result = results.find((r) => r.id === outcome.scenario);
    const shares = result?.detail?.cpu_cores as CpuShares | undefined;
    const requests = Number(result?.detail?.requests ?? 0);
    const measured = result?.requestsPerSecond ?? 0;
    if (!result || !shares || !(requests > 0) || !(measured > 0)) return [];
    const targetRps = outcome.threshold * ceilingRps;
    const perRequest = {} as Record<Process, number>;
    const needed = { total: 0 } as Record<Process | "total", number>;
    for (const name of PROCESSES) {
      // CPU seconds in the window over the requests answered in it.
      perRequest[name] = (shares[name] * shares.window_s * 1000) / requests;
      needed[name] = (perRequest[name] * targetRps) / 1000;
      needed.total += needed[name];
    }
    const othersMs = perRequest.postgres + perRequest.redis + perRequest.load_generator;
    const leftForService = Math.min(
      SERVICE_CORES,
      coresAvailable - (othersMs * targetRps) / 1000,
    );
    return [{
      scenario: result.id,
      title: result.title,
      ratio_target: outcome.threshold,
      target_rps: Math.round(targetRps),
      measured_rps: Math.round(measured),
      cpu_ms_per_request: mapValues(perRequest, 4),
      cores_needed: mapValues(needed, 2),
      cores_available: coresAvailable,
      service_ms_budget: leftForService > 0 ? round((leftForService / targetRps) * 1000, 4) : null,
    }];
  });
}

export function renderBudgets(budgets: readonly TargetBudget[]): string {
  if (budgets.length === 0) return "";
  const lines = [
    "What each missed ratio target would take (this run's CPU per request × the target's rate):",
  ];
  for (const b of budgets) {
    const n = b.cores_needed;
    lines.push(
      `  ${b.title}: ${b.ratio_target.toFixed(2)} × = ${b.target_rps} req/s (measured ` +
        `${b.measured_rps}) would need ${n.total} cores: service ${n.service}, Postgres ` +
        `${n.postgres}, Redis ${n.redis}, load generator ${n.load_generator}; the machine has ` +
        `${b.cores_available}.`,
    );
    lines.push(
      b.service_ms_budget === null
        ? "    Postgres, Redis and the load generator alone would need more than the machine."
        : `    With the others at their measured cost, and its one thread, the service would ` +
          `have to spend at most ${b.service_ms_budget} CPU ms per request (measured ` +
          `${b.cpu_ms_per_request.service}).`,
    );
  }
  return lines.join("\n");
}

function mapValues<K extends string>(values: Record<K, number>, digits: number) {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, round(v as number, digits)]),
  ) as Record<K, number>;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
