import assert from "node:assert/strict";
import { renderBudgets, targetBudgets } from "../bench/budget.ts";
import type { ScenarioResult, TargetOutcome } from "../bench/report.ts";

function scenario(id: string, rps: number, cores: Record<string, number>): ScenarioResult {
  return {
    id,
    title: id,
    requestsPerSecond: rps,
    p50Ms: 1,
    p99Ms: 2,
    ratio: null,
    failures: 0,
    // The CPU readings span 10 s, the load within them 9 s.
    detail: { requests: rps * 9, cpu_cores: { machine_busy: 1.5, window_s: 10, ...cores } },
  };
}

function ratioOutcome(scenario: string, threshold: number, pass: boolean): TargetOutcome {
  return { scenario, metric: "ratio", op: ">=", threshold, actual: 0.2, pass };
}

Deno.test("bench budgets: cores a missed ratio target needs at this run's cost per request", () => {
  const results = [
    scenario("whoami", 10_000, { service: 0.81, postgres: 0, redis: 0.18, load_generator: 0.36 }),
    scenario("liveness", 40_000, { service: 0.9, postgres: 0, redis: 0, load_generator: 1 }),
  ];
  const outcomes = [
    ratioOutcome("whoami", 0.4, false),
    ratioOutcome("liveness", 0.8, true),
    { ...ratioOutcome("whoami", 10, false), metric: "p99Ms" as const, op: "<=" as const },
  ];
  const [budget, ...rest] = targetBudgets(results, outcomes, 50_000, 2);
  assert.equal(rest.length, 0, "met targets and latency targets get no budget");
  assert.equal(budget!.target_rps, 20_000);
  assert.deepEqual(budget!.cpu_ms_per_request, {
    service: 0.09,
    postgres: 0,
    redis: 0.02,
    load_generator: 0.04,
  });
  assert.deepEqual(budget!.cores_needed, {
    total: 3,
    service: 1.8,
    postgres: 0,
    redis: 0.4,
    load_generator: 0.8,
  });
  // 2 cores - 1.2 for Redis and the load generator = 0.8 cores / 20,000 req/s.
  assert.equal(budget!.service_ms_budget, 0.04);
  assert.match(renderBudgets([budget!]), /would need 3 cores: service 1.8,[^]*at most 0.04 CPU ms/);
});

Deno.test("bench budgets: no room at all when the other processes alone exceed the machine", () => {
  const results = [
    scenario("query", 2_000, {
      service: 0.63,
      postgres: 0.63,
      redis: 0.045,
      load_generator: 0.225,
    }),
  ];
  const [budget] = targetBudgets(results, [ratioOutcome("query", 0.1, false)], 50_000, 2);
  assert.equal(budget!.target_rps, 5_000);
  assert.equal(budget!.cores_needed.total, 4.25);
  assert.equal(budget!.service_ms_budget, null);
  assert.match(renderBudgets([budget!]), /alone would need more than the machine/);
});

Deno.test("bench budgets: the service gets one core however many are free (one JS thread)", () => {
  const results = [
    scenario("whoami", 15_000, { service: 0.99, postgres: 0, redis: 0, load_generator: 0.27 }),
  ];
  const [budget] = targetBudgets(results, [ratioOutcome("whoami", 0.3, false)], 60_000, 2);
  assert.equal(budget!.target_rps, 18_000);
  // 2 cores - 0.36 for the load generator leaves 1.64, but one thread can use 1:
  // 1 core / 18,000 req/s.
  assert.equal(budget!.service_ms_budget, 0.0556);
});
