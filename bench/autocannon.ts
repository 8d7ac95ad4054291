/**
 * The load generator: autocannon (pinned), run by Node through npx in its own
 * process, so it never shares an event loop with the service or this script.
 */
export const AUTOCANNON = "autocannon@9.0.0";

export interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Fixed total request rate (latency then includes coordinated-omission correction). */
  overallRate?: number;
}

/** The parts of autocannon's `--json` report this benchmark uses. */
export interface LoadResult {
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
}

interface AutocannonJson {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  statusCodeStats?: Record<string, { count: number }>;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  requests: { average: number; total: number };
}

/** Installs autocannon into the npx cache up front, so no run pays for the download. */
export async function ensureAutocannon(): Promise<string> {
  const output = await new Deno.Command("npx", {
    args: ["-y", AUTOCANNON, "--version"],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => {
    throw new Error(`cannot run npx (Node.js is needed for the load generator): ${error}`);
  });
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(`npx ${AUTOCANNON} failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
  return text.split("\n")[0] ?? AUTOCANNON;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const args = [
    "-y",
    AUTOCANNON,
    "--json",
    "-c",
    String(spec.connections),
    "-d",
    String(spec.durationSeconds),
    "-m",
    spec.method ?? "GET",
  ];
  // `K=V`: autocannon splits at the first '=' or ':'; none of our header names contain one.
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    args.push("-H", `${name}=${value}`);
  }
  if (spec.body !== undefined) args.push("-b", spec.body);
  if (spec.overallRate !== undefined) args.push("-R", String(spec.overallRate));
  args.push(spec.url);

  const output = await new Deno.Command("npx", { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const line = stdout.split("\n").findLast((l) => l.startsWith("{"));
  if (!output.success || !line) {
    throw new Error(
      `autocannon failed (exit ${output.code}):\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const report = JSON.parse(line) as AutocannonJson;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(report.statusCodeStats ?? {})) {
    statusCodes[code] = count;
  }
  return {
    // Only successful answers count: a fast 429 or 500 is not throughput.
    requestsPerSecond: report["2xx"] / report.duration,
    latencyMs: {
      p50: report.latency.p50,
      p90: report.latency.p90,
      p99: report.latency.p99,
      max: report.latency.max,
      mean: report.latency.mean,
    },
    total: report.requests.total,
    ok: report["2xx"],
    non2xx: report.non2xx,
    errors: report.errors,
    timeouts: report.timeouts,
    statusCodes,
    durationSeconds: report.duration,
  };
}
