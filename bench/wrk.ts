/**
 * The closed-loop load generator: wrk (C, Debian package `wrk`), one thread,
 * run in its own process. At about 0.01 CPU ms per request it leaves the
 * machine to the server under test; autocannon under Node spent about a core
 * at 40,000 req/s, so the ceiling it measured was its own (issue 20).
 *
 * Method, headers and body go into a generated Lua script, whose `done`
 * callback prints one machine-readable line (`BENCH_JSON {...}`) with the
 * request counts and the latency percentiles in microseconds.
 */
import type { LoadResult, LoadSpec } from "./autocannon.ts";

export const WRK = "wrk";
const MARKER = "BENCH_JSON ";

/** `wrk -v` prints its version (and exits 1); null when wrk is not installed. */
export async function wrkVersion(): Promise<string | null> {
  try {
    const output = await new Deno.Command(WRK, { args: ["-v"], stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    return /^wrk \S+/m.exec(text)?.[0] ?? "wrk";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** A Lua long string that cannot be closed early by `text`. */
export function luaString(text: string): string {
  let level = 0;
  while (text.includes(`]${"=".repeat(level)}]`)) level++;
  const eq = "=".repeat(level);
  // A long string drops a newline right after its opening bracket; keep one by doubling it.
  return `[${eq}[${text.startsWith("\n") ? "\n" : ""}${text}]${eq}]`;
}

/** The Lua script for one load: the request, and a `done` that prints the summary as JSON. */
export function wrkScript(spec: Pick<LoadSpec, "method" | "headers" | "body">): string {
  const lines = [`wrk.method = ${luaString(spec.method ?? "GET")}`];
  if (spec.body !== undefined) lines.push(`wrk.body = ${luaString(spec.body)}`);
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    // Spaces: `t[[k]]` would be a call with a long string, not an index.
    lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
  }
  lines.push(
    "",
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    "  local p = function(q) return latency:percentile(q) end",
    "  io.write(string.format(",
    `    '\\n${MARKER}{"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,' ..`,
    `    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..`,
    `    '"latency_us":{"min":%.0f,"mean":%.1f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f}}\\n',`,
    "    summary.duration, summary.requests, summary.bytes,",
    "    e.connect, e.read, e.write, e.status, e.timeout,",
    "    latency.min, latency.mean, latency.max, p(50), p(90), p(99), p(99.9)))",
    "end",
    "",
  );
  return lines.join("\n");
}

interface WrkSummary {
  duration_us: number;
  requests: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: {
    min: number;
    mean: number;
    max: number;
    p50: number;
    p90: number;
    p99: number;
    p999: number;
  };
}

const ms = (us: number) => Math.round(us) / 1000;

/**
 * The `BENCH_JSON` line of a run's output, as a LoadResult. wrk counts an
 * answer with a status of 400 or more as a status error; socket errors and
 * timeouts separately. Only the other answers count as successful.
 */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split("\n").findLast((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`no ${MARKER.trim()} line in wrk's output:\n${stdout}`);
  const s = JSON.parse(line.slice(MARKER.length)) as WrkSummary;
  const seconds = s.duration_us / 1e6;
  const ok = s.requests - s.errors.status;
  return {
    requestsPerSecond: seconds > 0 ? ok / seconds : 0,
    latencyMs: {
      p50: ms(s.latency_us.p50),
      p90: ms(s.latency_us.p90),
      p99: ms(s.latency_us.p99),
      max: ms(s.latency_us.max),
      mean: ms(s.latency_us.mean),
    },
    total: s.requests,
    ok,
    non2xx: s.errors.status,
    errors: s.errors.connect + s.errors.read + s.errors.write,
    timeouts: s.errors.timeout,
    // wrk does not break answers down by status; `status_errors` are the >= 400 ones.
    statusCodes: { ok, status_errors: s.errors.status },
    durationSeconds: seconds,
  };
}

/** `wrk -t1 -c<connections> -d<seconds>s`: one thread is enough to saturate two cores' server. */
export async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  if (spec.overallRate !== undefined) {
    throw new Error("wrk runs closed-loop only; a fixed rate needs autocannon or bench/probe.ts");
  }
  const script = await Deno.makeTempFile({ prefix: "gatehouse-bench-", suffix: ".lua" });
  try {
    await Deno.writeTextFile(script, wrkScript(spec));
    const output = await new Deno.Command(WRK, {
      args: [
        "-t1",
        `-c${spec.connections}`,
        `-d${spec.durationSeconds}s`,
        "--timeout",
        "5s",
        "-s",
        script,
        spec.url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      throw new Error(
        `wrk failed (exit ${output.code}):\n${stdout}${new TextDecoder().decode(output.stderr)}`,
      );
    }
    return parseWrkOutput(stdout);
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}
