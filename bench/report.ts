/** Scenario results, the targets they are judged by, and the printed table. */

export interface ScenarioResult {
  id: string;
  title: string;
  requestsPerSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** requests/s divided by the ceiling's requests/s. */
  ratio: number | null;
  /** CPU time the server process spent per successful request (user + system, all threads). */
  cpuMsPerRequest?: number | null;
  /** Anything that was not a 2xx answer (429s, 5xx, socket errors, timeouts). */
  failures: number;
  detail?: Record<string, unknown>;
}

export interface Target {
  scenario: string;
  /** ratio: × ceiling; vsPgbench: req/s over pgbench's turns/s (detail.vs_pgbench). */
  metric: "ratio" | "vsPgbench" | "p99Ms" | "rssMb";
  op: ">=" | "<=";
  threshold: number;
}

export interface TargetOutcome extends Target {
  actual: number | null;
  pass: boolean;
}

/**
 * The targets of issue 20 (ratios to a ceiling measured with wrk, 32
 * connections), with issue 6's login-flood and memory targets, which it keeps.
 */
export const TARGETS: readonly Target[] = [
  { scenario: "liveness", metric: "ratio", op: ">=", threshold: 0.7 },
  { scenario: "whoami_api_key", metric: "ratio", op: ">=", threshold: 0.33 },
  { scenario: "whoami_api_key", metric: "p99Ms", op: "<=", threshold: 5 },
  { scenario: "whoami_jwt", metric: "ratio", op: ">=", threshold: 0.35 },
  { scenario: "whoami_jwt", metric: "p99Ms", op: "<=", threshold: 5 },
  { scenario: "query_echo", metric: "vsPgbench", op: ">=", threshold: 0.5 },
  { scenario: "login_flood", metric: "p99Ms", op: "<=", threshold: 25 },
  { scenario: "memory", metric: "rssMb", op: "<=", threshold: 200 },
];

/** Embedded mode (issue 20, item 4): RSS of an idle instance right after start. */
export const EMBEDDED_TARGETS: readonly Target[] = [
  { scenario: "memory", metric: "rssMb", op: "<=", threshold: 300 },
];

function vsPgbench(result: ScenarioResult): number | null {
  const value = result.detail?.vs_pgbench;
  return typeof value === "number" ? value : null;
}

export function judge(
  results: readonly ScenarioResult[],
  rssMb: number | null,
  targets: readonly Target[] = TARGETS,
): TargetOutcome[] {
  return targets.flatMap((target) => {
    const result = results.find((r) => r.id === target.scenario);
    if (!result && target.metric !== "rssMb") return [];
    const actual = target.metric === "rssMb"
      ? rssMb
      : target.metric === "ratio"
      ? result!.ratio
      : target.metric === "vsPgbench"
      ? vsPgbench(result!)
      : result!.p99Ms;
    const pass = actual !== null && Number.isFinite(actual) &&
      (target.op === ">=" ? actual >= target.threshold : actual <= target.threshold) &&
      (result?.failures ?? 0) === 0;
    return [{ ...target, actual, pass }];
  });
}

function describe(target: Target): string {
  const op = target.op === ">=" ? "≥" : "≤";
  switch (target.metric) {
    case "ratio":
      return `${op} ${target.threshold.toFixed(2)}×`;
    case "vsPgbench":
      return `${op} ${target.threshold.toFixed(2)}× pgbench`;
    case "p99Ms":
      return `p99 ${op} ${target.threshold} ms`;
    case "rssMb":
      return `${op} ${target.threshold} MB`;
  }
}

const num = (value: number | null, digits = 0) =>
  value === null || !Number.isFinite(value) ? "–" : value.toFixed(digits);

/** wrk reports microseconds, autocannon whole milliseconds (0: under one). */
export const latency = (ms: number | null) =>
  ms === 0
    ? "<1"
    : ms === null || Number.isInteger(ms)
    ? num(ms)
    : num(ms, ms < 1 ? 2 : ms < 10 ? 1 : 0);

/** A Markdown table: readable in a terminal and pasteable into the README. */
export function renderTable(
  results: readonly ScenarioResult[],
  outcomes: readonly TargetOutcome[],
  rssMb: number | null,
): string {
  const rows: string[][] = [[
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "× ceiling",
    "CPU ms/req",
    "target",
    "result",
  ]];
  for (const r of results) {
    const mine = outcomes.filter((o) => o.scenario === r.id);
    const failures = r.failures > 0 ? ` (${r.failures} failed)` : "";
    rows.push([
      r.title + failures,
      num(r.requestsPerSecond),
      latency(r.p50Ms),
      latency(r.p99Ms),
      r.ratio === null ? "–" : r.ratio.toFixed(2),
      num(r.cpuMsPerRequest ?? null, 3),
      mine.map(describe).join(", ") || "–",
      mine.length === 0 ? "–" : mine.every((o) => o.pass) ? "pass" : "MISS",
    ]);
  }
  const memory = outcomes.filter((o) => o.metric === "rssMb");
  rows.push([
    "RSS of the service after all scenarios",
    "–",
    "–",
    "–",
    "–",
    "–",
    memory.map(describe).join(", ") || "–",
    `${num(rssMb)} MB` +
    (memory.length === 0 ? "" : memory.every((o) => o.pass) ? " pass" : " MISS"),
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    "| " + row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
      .join(" | ") +
    " |";
  const rule = "| " + widths.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":"))
    .join(" | ") +
    " |";
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join("\n");
}
