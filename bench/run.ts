/**
 * `deno task bench`: the load benchmark (issue #6).
 *
 * One run starts a bare Deno.serve hello-world (the ceiling) and the service in
 * self-hosted mode against real Postgres and Redis (a throwaway database and key
 * prefix), drives load from separate processes (wrk, or autocannon through npx
 * when wrk is missing; small custom clients here for streaming and logins;
 * pgbench for Postgres's own rate of the statements of a stored query), prints
 * a table and writes bench/results.json. See the README's "Performance" section.
 *
 * Flags: --embedded (also measure embedded mode), --cpu-prof (service CPU profile
 * into bench/profiles/), --only=<id,...> (a subset of scenarios), --strict (exit 1
 * when a target is missed). Settings: BENCH_* environment variables, below.
 */
import { envSchema } from "../src/config.ts";
import { renderBudgets, targetBudgets } from "./budget.ts";
import { type CpuShares, cpuShares, cpuSnapshot } from "./cpu_shares.ts";
import type { LoadSpec } from "./autocannon.ts";
import { chooseLoadGenerator, type LoadGenerator } from "./load.ts";
import {
  captureServiceQuery,
  type PgbenchResult,
  pgbenchScript,
  pgbenchVersion,
  runPgbench,
} from "./pgbench.ts";
import {
  type Credentials,
  floodLogins,
  measureStreamTtfb,
  OPENAI_STREAM,
  QUERY_STREAM,
  setUpCredentials,
  type StreamRequest,
} from "./clients.ts";
import { createBenchDatabase, deleteRedisPrefix } from "./infra.ts";
import {
  cpuSeconds,
  delay,
  freePort,
  loadAverage,
  readProcFile,
  residentSetBytes,
  sampleRss,
  type Server,
  startServer,
  tail,
} from "./processes.ts";
import { type ProbeReport, runProbeProcess } from "./probe.ts";
import {
  EMBEDDED_TARGETS,
  judge,
  renderTable,
  type ScenarioResult,
  type TargetOutcome,
} from "./report.ts";

const REPO_ROOT = new URL("..", import.meta.url).pathname;
const RESULTS_FILE = new URL("./results.json", import.meta.url).pathname;
const PROFILE_DIR = new URL("./profiles", import.meta.url).pathname;

const SCENARIOS = [
  "liveness",
  "whoami_api_key",
  "whoami_jwt",
  "query_echo",
  "query_budgets",
  "query_stream",
  "openai_echo",
  "openai_stream",
  "login_flood",
] as const;
type ScenarioId = (typeof SCENARIOS)[number];

interface Options {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  streamConcurrency: number;
  loginConcurrency: number;
  probeRate: number;
  settleSeconds: number;
  /** Extra service settings for experiments (BENCH_SERVICE_ENV, a JSON object). */
  serviceEnv: Record<string, string>;
  databaseUrl: string;
  redisUrl: string;
  logLevel: string;
  embedded: boolean;
  cpuProf: boolean;
  strict: boolean;
  only: Set<ScenarioId>;
  /** BENCH_LOAD_GENERATOR: wrk (default) or autocannon. */
  loadGeneratorPreference: string | undefined;
  pgbenchClients: number;
  /** Chosen in main(). */
  generator?: LoadGenerator;
}

function readOptions(args: string[]): Options {
  const int = (name: string, fallback: number, min = 1) => {
    const raw = Deno.env.get(name);
    const value = raw === undefined || raw === "" ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new Error(`${name} must be an integer >= ${min}`);
    }
    return value;
  };
  const flags = new Set(args.filter((a) => !a.startsWith("--only=")));
  for (const flag of flags) {
    if (!["--embedded", "--cpu-prof", "--strict"].includes(flag)) {
      throw new Error(
        `unknown argument ${flag} (use --embedded, --cpu-prof, --strict, --only=<ids>)`,
      );
    }
  }
  const onlyArg = args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  const only = new Set<ScenarioId>();
  for (const id of onlyArg ? onlyArg.split(",") : SCENARIOS) {
    if (!(SCENARIOS as readonly string[]).includes(id)) {
      throw new Error(`unknown scenario ${id}; known: ${SCENARIOS.join(", ")}`);
    }
    only.add(id as ScenarioId);
  }
  return {
    connections: int("BENCH_CONNECTIONS", 32),
    durationSeconds: int("BENCH_DURATION", 10),
    warmupSeconds: int("BENCH_WARMUP", 3, 0),
    streamConcurrency: int("BENCH_STREAM_CONCURRENCY", 4),
    loginConcurrency: int("BENCH_LOGIN_CONCURRENCY", 8),
    probeRate: int("BENCH_PROBE_RATE", 200),
    settleSeconds: int("BENCH_SETTLE", 20, 0),
    serviceEnv: parseServiceEnv(Deno.env.get("BENCH_SERVICE_ENV")),
    databaseUrl: Deno.env.get("BENCH_DATABASE_URL") ||
      "postgres://postgres@127.0.0.1:5432/postgres",
    redisUrl: Deno.env.get("BENCH_REDIS_URL") || "redis://127.0.0.1:6379",
    logLevel: Deno.env.get("BENCH_LOG_LEVEL") || "info",
    embedded: flags.has("--embedded"),
    cpuProf: flags.has("--cpu-prof"),
    strict: flags.has("--strict"),
    only,
    loadGeneratorPreference: Deno.env.get("BENCH_LOAD_GENERATOR") || undefined,
    pgbenchClients: int("BENCH_PGBENCH_CLIENTS", 8),
  };
}

function parseServiceEnv(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  const value = JSON.parse(raw) as unknown;
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    Object.values(value).some((v) => typeof v !== "string")
  ) {
    throw new Error(
      'BENCH_SERVICE_ENV must be a JSON object of strings, e.g. {"LOG_LEVEL":"warn"}',
    );
  }
  return value as Record<string, string>;
}

/** Cleanup steps, run once, last registered first, each one even if another fails. */
class Cleanup {
  readonly #steps: { name: string; run: () => Promise<unknown> }[] = [];
  #done: Promise<void> | undefined;

  add(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  run(): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(`cleanup: ${step.name} failed: ${error}`);
        }
      }
    })();
    return this.#done;
  }
}

/** Every setting the service reads, blank (= default) unless the benchmark sets it. */
function serviceEnv(settings: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) env[key] = "";
  return { ...env, ...settings };
}

function serviceArgs(options: Options): string[] {
  // The permissions of the `start` task.
  return [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write=.data",
    "--allow-sys",
    ...(options.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    "main.ts",
  ];
}

/** Generous quotas: every request still goes through the limiter, none is refused. */
function limiterSettings(options: Options): Record<string, string> {
  const huge = 1_000_000_000;
  return {
    // Spend quotas are on (every query reserves and settles) but never exhausted.
    RATE_LIMIT_TIERS: JSON.stringify({
      free: { per_minute: huge, per_day: huge, tokens_per_day: huge * 1000, usd_per_day: 1e8 },
    }),
    RATE_LIMIT_IP_PER_MINUTE: "1000000",
    MAX_STREAMS_PER_PRINCIPAL: String(Math.max(4, options.streamConcurrency)),
    // Every connection may have a query in flight; the check itself still runs.
    MAX_CONCURRENT_QUERIES_PER_USER: String(
      Math.max(8, options.connections, options.streamConcurrency),
    ),
  };
}

function randomSuffix(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(5)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))));
}

async function machine(): Promise<Record<string, unknown>> {
  const read = readProcFile;
  const cpuinfo = await read("/proc/cpuinfo");
  const meminfo = await read("/proc/meminfo");
  const node = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output()
    .then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => null);
  return {
    cpus: navigator.hardwareConcurrency,
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? null,
    memory_mb: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024),
    os: `${Deno.build.os} ${(await read("/proc/sys/kernel/osrelease")).trim()}`,
    deno: Deno.version.deno,
    node,
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const QUERY_BODY = JSON.stringify({
  prompt: "Benchmark prompt: say something short.",
  mode: "speed",
  models: ["echo-fast"],
});
/** The same question through the OpenAI-compatible endpoint (not stored, usage row only). */
const OPENAI_BODY = JSON.stringify({
  model: "echo-fast",
  messages: [{ role: "user", content: "Benchmark prompt: say something short." }],
});

/** Warms up with the same load, then measures it. */
async function loadScenario(
  options: Options,
  id: string,
  title: string,
  spec: Omit<LoadSpec, "connections" | "durationSeconds">,
  server: Server,
): Promise<ScenarioResult> {
  const load = { connections: options.connections, ...spec };
  const run = options.generator!.run;
  if (options.warmupSeconds > 0) await run({ ...load, durationSeconds: options.warmupSeconds });
  const cpuBefore = await cpuSeconds(server.pid);
  const sharesBefore = await cpuSnapshot(server.pid);
  const r = await run({ ...load, durationSeconds: options.durationSeconds });
  const shares = cpuShares(sharesBefore, await cpuSnapshot(server.pid));
  const cpuAfter = await cpuSeconds(server.pid);
  await server.assertRunning(title);
  const result: ScenarioResult = {
    id,
    title,
    requestsPerSecond: r.requestsPerSecond,
    p50Ms: r.latencyMs.p50,
    p99Ms: r.latencyMs.p99,
    ratio: null, // set once the ceiling is known (see withRatios)
    cpuMsPerRequest: cpuPerRequest(cpuBefore, cpuAfter, r.ok),
    failures: r.non2xx + r.errors + r.timeouts,
    detail: {
      latency_ms: r.latencyMs,
      status_codes: r.statusCodes,
      requests: r.total,
      cpu_cores: shares,
    },
  };
  progress(result);
  return result;
}

function cpuPerRequest(before: number | null, after: number | null, requests: number) {
  return before === null || after === null || requests === 0
    ? null
    : round(((after - before) * 1000) / requests, 4);
}

function progress(r: ScenarioResult): void {
  const parts = [
    r.requestsPerSecond === null ? "" : `${r.requestsPerSecond.toFixed(0)} req/s`,
    r.p50Ms === null ? "" : `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`,
    r.cpuMsPerRequest ? `${r.cpuMsPerRequest} CPU ms/req` : "",
    r.failures > 0 ? `${r.failures} FAILED` : "",
  ];
  console.log(`  ${r.title}: ${parts.filter(Boolean).join(", ")}`);
  const shares = r.detail?.cpu_cores as CpuShares | undefined;
  if (shares) {
    console.log(
      `    CPU cores busy: ${shares.machine_busy} of ${navigator.hardwareConcurrency} ` +
        `(service ${shares.service}, Postgres ${shares.postgres}, Redis ${shares.redis}, ` +
        `load generator ${shares.load_generator})`,
    );
  }
}

/** The scenarios common to both modes (liveness, whoami, query). */
async function requestScenarios(
  options: Options,
  server: Server,
  credentials: Credentials,
  prefix = "",
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const c = options.connections;
  if (options.only.has("liveness")) {
    results.push(
      await loadScenario(options, "liveness", `${prefix}getLiveness`, {
        url: `${server.url}/health/live`,
      }, server),
    );
  }
  if (options.only.has("whoami_api_key")) {
    results.push(
      await loadScenario(options, "whoami_api_key", `${prefix}whoami, API key (${c} conn.)`, {
        url: `${server.url}/v1/auth/whoami`,
        headers: bearer(credentials.apiKey),
      }, server),
    );
  }
  if (options.only.has("whoami_jwt")) {
    results.push(
      await loadScenario(options, "whoami_jwt", `${prefix}whoami, JWT`, {
        url: `${server.url}/v1/auth/whoami`,
        headers: bearer(credentials.accessToken),
      }, server),
    );
  }
  if (options.only.has("query_echo")) {
    results.push(
      await loadScenario(options, "query_echo", `${prefix}query, echo-fast, speed (stored)`, {
        url: `${server.url}/v1/query`,
        method: "POST",
        headers: { ...bearer(credentials.apiKey), "content-type": "application/json" },
        body: QUERY_BODY,
      }, server),
    );
  }
  if (options.only.has("query_budgets")) {
    // The same query through a key with its own USD budget: user and key limits all checked.
    const res = await fetch(`${server.url}/v1/api-keys`, {
      method: "POST",
      headers: { ...bearer(credentials.accessToken), "content-type": "application/json" },
      body: JSON.stringify({ name: "bench budgets", budget_usd_per_day: 1_000_000 }),
    });
    if (res.status !== 201) throw new Error(`budgeted key: ${res.status} ${await res.text()}`);
    const budgetedKey = String((await res.json()).key);
    const budgets = await loadScenario(
      options,
      "query_budgets",
      `${prefix}query, echo-fast, key USD budget + tier token quota`,
      {
        url: `${server.url}/v1/query`,
        method: "POST",
        headers: { ...bearer(budgetedKey), "content-type": "application/json" },
        body: QUERY_BODY,
      },
      server,
    );
    results.push(budgets);
    const plain = results.find((r) => r.id === "query_echo");
    if (plain?.cpuMsPerRequest && budgets.cpuMsPerRequest) {
      const added = budgets.cpuMsPerRequest - plain.cpuMsPerRequest;
      console.log(
        `${prefix}budgets on: ${added >= 0 ? "+" : ""}${added.toFixed(3)} CPU ms per query ` +
          `over query_echo (${((added / plain.cpuMsPerRequest) * 100).toFixed(1)} %)`,
      );
    }
  }
  if (options.only.has("openai_echo")) {
    results.push(
      await loadScenario(options, "openai_echo", `${prefix}openai chat completion, echo-fast`, {
        url: `${server.url}/openai/v1/chat/completions`,
        method: "POST",
        headers: { ...bearer(credentials.apiKey), "content-type": "application/json" },
        body: OPENAI_BODY,
      }, server),
    );
  }
  return results;
}

async function streamScenario(
  options: Options,
  server: Server,
  credentials: Credentials,
  scenario: { id: ScenarioId; name: string; request: StreamRequest } = {
    id: "query_stream",
    name: "query",
    request: QUERY_STREAM,
  },
): Promise<ScenarioResult> {
  const n = options.streamConcurrency;
  const { request } = scenario;
  if (options.warmupSeconds > 0) {
    await measureStreamTtfb(server.url, credentials.apiKey, n, options.warmupSeconds, request);
  }
  const cpuBefore = await cpuSeconds(server.pid);
  const s = await measureStreamTtfb(
    server.url,
    credentials.apiKey,
    n,
    options.durationSeconds,
    request,
  );
  const cpuAfter = await cpuSeconds(server.pid);
  await server.assertRunning("the streaming scenario");
  const result: ScenarioResult = {
    id: scenario.id,
    title: `${scenario.name} streaming, time to first chunk (${n} streams)`,
    requestsPerSecond: s.perSecond,
    p50Ms: round(s.p50),
    p99Ms: round(s.p99),
    ratio: null,
    cpuMsPerRequest: cpuPerRequest(cpuBefore, cpuAfter, s.count),
    failures: s.errors,
    detail: { streams: s.count, ttfb_max_ms: round(s.max) },
  };
  progress(result);
  return result;
}

/**
 * Liveness probed at a fixed, evenly spaced rate (bench/probe.ts, its own
 * process), first alone and then while logins keep scrypt busy.
 */
async function loginFloodScenarios(
  options: Options,
  server: Server,
  credentials: Credentials,
): Promise<ScenarioResult[]> {
  const url = `${server.url}/health/live`;
  const rate = `${options.probeRate} req/s`;
  const asResult = (id: string, title: string, p: ProbeReport): ScenarioResult => ({
    id,
    title,
    requestsPerSecond: p.ok / p.seconds,
    p50Ms: p.latencyMs.p50,
    p99Ms: p.latencyMs.p99,
    ratio: null,
    failures: p.failed,
    detail: { liveness_latency_ms: p.latencyMs, probe_late_sends: p.lateSends },
  });

  const idle = await runProbeProcess(url, options.probeRate, options.durationSeconds);
  const baseline = asResult("liveness_probe", `getLiveness at ${rate}, idle`, idle);
  progress(baseline);

  const stop = new AbortController();
  const logins = floodLogins(server.url, credentials, options.loginConcurrency, stop.signal);
  await delay(1_000); // every login loop is hashing before the probe starts
  let during: ProbeReport;
  try {
    during = await runProbeProcess(url, options.probeRate, options.durationSeconds);
  } finally {
    stop.abort();
  }
  const flood = await logins;
  await server.assertRunning("the login flood");
  const result = asResult(
    "login_flood",
    `getLiveness at ${rate} during ${options.loginConcurrency} concurrent logins`,
    during,
  );
  result.failures += flood.errors;
  result.detail = {
    ...result.detail,
    logins: {
      completed: flood.count,
      per_second: round(flood.perSecond),
      p50_ms: round(flood.p50),
      p99_ms: round(flood.p99),
      failed: flood.errors,
    },
  };
  progress(result);
  console.log(
    `    logins: ${flood.count} (${flood.perSecond.toFixed(1)}/s), p50 ${
      flood.p50.toFixed(0)
    } ms, ` +
      `p99 ${
        flood.p99.toFixed(0)
      } ms, ${flood.errors} failed; probe sends late: ${during.lateSends}`,
  );
  return [baseline, result];
}

/**
 * pgbench running the statements of one stored `query` (bench/pgbench.ts:
 * recorded from an in-process instance of the service built with the running
 * service's settings, against its database) while the service idles:
 * Postgres's own rate of those statements in this run, and `query` req/s as a
 * share of it (`vs_pgbench`).
 */
async function pgbenchScenario(
  options: Options,
  service: { pid: number; settings: Record<string, string> },
  apiKey: string,
  query: ScenarioResult,
): Promise<ScenarioResult | null> {
  const version = await pgbenchVersion();
  if (version === null) {
    console.log(
      "  WARNING: pgbench is not installed (Debian: apt-get install postgresql-client): " +
        "no cross-check of query against Postgres's own rate of its statements",
    );
    return null;
  }
  const databaseUrl = service.settings.DATABASE_URL!;
  const capture = await captureServiceQuery(service.settings, { apiKey, body: QUERY_BODY });
  const script = pgbenchScript(capture);
  const statements = capture.statements.length;
  const clients = options.pgbenchClients;
  if (options.warmupSeconds > 0) {
    await runPgbench(databaseUrl, script, { clients, seconds: options.warmupSeconds });
  }
  const before = await cpuSnapshot(service.pid);
  const p: PgbenchResult = await runPgbench(databaseUrl, script, {
    clients,
    seconds: options.durationSeconds,
  });
  const shares = cpuShares(before, await cpuSnapshot(service.pid));
  const vsPgbench = query.requestsPerSecond === null
    ? null
    : round(query.requestsPerSecond / p.transactionsPerSecond, 3);
  query.detail = { ...query.detail, vs_pgbench: vsPgbench };
  const postgresMs = p.transactions > 0
    ? round((shares.postgres * shares.window_s * 1000) / p.transactions, 4)
    : null;
  const result: ScenarioResult = {
    id: "pgbench_query",
    title: `pgbench: one query's ${statements} statements (${clients} clients)`,
    requestsPerSecond: p.transactionsPerSecond,
    p50Ms: null,
    p99Ms: null,
    ratio: null,
    // The server here is Postgres: its CPU per query's worth of statements.
    cpuMsPerRequest: postgresMs,
    failures: p.failed,
    detail: {
      pgbench: version,
      transactions: p.transactions,
      requests: p.transactions,
      latency_avg_ms: p.latencyMs,
      cpu_cores: shares,
      statements,
      minted_ids: script.freshIds.size,
      script: script.script,
    },
  };
  progress(result);
  console.log(
    `    pgbench script: the ${statements} statements of one query, ${script.freshIds.size} ids ` +
      `minted per transaction (results.json has the script)`,
  );
  console.log(`    query req/s over pgbench transactions/s: ${vsPgbench}`);
  return result;
}

/** One ceiling row: the mean of the runs before and after the request scenarios. */
function combineCeiling(before: ScenarioResult, after: ScenarioResult): ScenarioResult {
  const rps = (before.requestsPerSecond! + after.requestsPerSecond!) / 2;
  const result: ScenarioResult = {
    id: "ceiling",
    title: "ceiling: bare Deno.serve (mean of 2 runs)",
    requestsPerSecond: rps,
    p50Ms: Math.max(before.p50Ms!, after.p50Ms!),
    p99Ms: Math.max(before.p99Ms!, after.p99Ms!),
    ratio: 1,
    cpuMsPerRequest: before.cpuMsPerRequest && after.cpuMsPerRequest
      ? round((before.cpuMsPerRequest + after.cpuMsPerRequest) / 2, 4)
      : null,
    failures: before.failures + after.failures,
    detail: {
      before_rps: Math.round(before.requestsPerSecond!),
      after_rps: Math.round(after.requestsPerSecond!),
    },
  };
  console.log(
    `  ceiling: ${rps.toFixed(0)} req/s (before ${before.requestsPerSecond!.toFixed(0)}, ` +
      `after ${after.requestsPerSecond!.toFixed(0)})`,
  );
  return result;
}

function withRatios(results: ScenarioResult[], ceilingRps: number): ScenarioResult[] {
  return results.map((r) => ({
    ...r,
    ratio: r.requestsPerSecond === null ? null : r.requestsPerSecond / ceilingRps,
  }));
}

const round = (n: number, digits = 2) => Number.isFinite(n) ? Number(n.toFixed(digits)) : n;
const megabytes = (bytes: number | null) => bytes === null ? null : round(bytes / 2 ** 20, 1);

interface ModeReport {
  scenarios: ScenarioResult[];
  rss_mb: number | null;
  idle_rss_mb: number | null;
  rss_after_request_scenarios_mb?: number | null;
  peak_rss_mb?: number | null;
  settled_rss_mb?: number | null;
  targets?: TargetOutcome[];
}

async function main(): Promise<number> {
  const options = readOptions(Deno.args);
  const suffix = randomSuffix();
  const logDir = await Deno.makeTempDir({ prefix: "gatehouse-bench-" });
  const cleanup = new Cleanup();
  const onSignal = () => {
    console.error("\ninterrupted: cleaning up");
    void cleanup.run().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let keepLogs = false;

  try {
    const generator = await chooseLoadGenerator(options.loadGeneratorPreference);
    options.generator = generator;
    const host = await machine();
    const loadAtStart = await loadAverage();
    const loadTool = generator.name === "wrk"
      ? `${generator.version} (-t1)`
      : `autocannon ${generator.version} on Node ${host.node}`;
    console.log(
      `Gatehouse benchmark: ${host.cpus} CPUs (${host.cpu_model}), Deno ${host.deno}, ` +
        `load from ${loadTool}`,
    );
    if (generator.warning) console.log(`  ${generator.warning}`);
    console.log(
      `  ${options.connections} connections, ${options.durationSeconds} s per scenario after ` +
        `a ${options.warmupSeconds} s warm-up; service LOG_LEVEL=${options.logLevel}; logs in ${logDir}`,
    );
    if (Object.keys(options.serviceEnv).length > 0) {
      console.log(`  service settings overridden: ${JSON.stringify(options.serviceEnv)}`);
    }
    if (loadAtStart !== null && loadAtStart > 0.5) {
      console.log(
        `  WARNING: load average ${loadAtStart} before the run: other processes compete for ` +
          `the CPUs, so throughput is understated and latency overstated.`,
      );
    }

    const database = await createBenchDatabase(options.databaseUrl, suffix);
    cleanup.add(`drop database ${database.name}`, () => database.drop());
    const prefix = `gatehouse-bench:${suffix}`;
    cleanup.add(`delete Redis keys ${prefix}:*`, async () => {
      const deleted = await deleteRedisPrefix(options.redisUrl, prefix);
      console.log(`cleanup: dropped ${database.name}, deleted ${deleted} Redis keys`);
    });

    const ceilingPort = freePort();
    const ceiling = await startServer({
      name: "ceiling",
      args: ["run", "--allow-net", "--allow-env=PORT,HOSTNAME", "bench/ceiling.ts"],
      env: { PORT: String(ceilingPort), HOSTNAME: "127.0.0.1" },
      port: ceilingPort,
      cwd: REPO_ROOT,
      logDir,
      readyPath: "/",
    });
    cleanup.add("stop ceiling", () => ceiling.stop());

    const servicePort = freePort();
    if (options.cpuProf) await Deno.mkdir(PROFILE_DIR, { recursive: true });
    const serviceSettings = serviceEnv({
      PORT: String(servicePort),
      HOSTNAME: "127.0.0.1",
      DATABASE_URL: database.url,
      REDIS_URL: options.redisUrl,
      RATE_LIMIT_PREFIX: prefix,
      JWT_SECRET: randomSecret(),
      LOG_LEVEL: options.logLevel,
      SEED_DEMO: "false",
      ...limiterSettings(options),
      ...options.serviceEnv,
    });
    const service = await startServer({
      name: "service",
      args: serviceArgs(options),
      env: serviceSettings,
      port: servicePort,
      cwd: REPO_ROOT,
      logDir,
      readyPath: "/health/ready",
    });
    cleanup.add("stop service", () => service.stop());
    const idleRss = megabytes(await residentSetBytes(service.pid));
    const rssSampler = sampleRss(service.pid);
    const credentials = await setUpCredentials(service.url, suffix);

    console.log("self-hosted (Postgres + Redis):");
    const ceilingSpec = { url: `${ceiling.url}/` };
    const ceilingBefore = await loadScenario(
      options,
      "ceiling",
      "ceiling (before)",
      ceilingSpec,
      ceiling,
    );
    const requests = await requestScenarios(options, service, credentials);
    const ceilingAfter = await loadScenario(
      options,
      "ceiling",
      "ceiling (after)",
      ceilingSpec,
      ceiling,
    );
    const rssAfterRequests = megabytes(await residentSetBytes(service.pid));
    // The machine's speed drifts (2 shared cores): the ceiling is the mean of both runs.
    const ceilingResult = combineCeiling(ceilingBefore, ceilingAfter);
    const ceilingRps = ceilingResult.requestsPerSecond!;
    const scenarios = [ceilingResult, ...withRatios(requests, ceilingRps)];
    const query = scenarios.find((r) => r.id === "query_echo");
    if (query) {
      const pgbench = await pgbenchScenario(
        options,
        { pid: service.pid, settings: serviceSettings },
        credentials.apiKey,
        query,
      );
      if (pgbench) scenarios.push(pgbench);
    }
    if (options.only.has("query_stream")) {
      scenarios.push(await streamScenario(options, service, credentials));
    }
    if (options.only.has("openai_stream")) {
      scenarios.push(
        await streamScenario(options, service, credentials, {
          id: "openai_stream",
          name: "openai chat completion",
          request: OPENAI_STREAM,
        }),
      );
    }
    if (options.only.has("login_flood")) {
      scenarios.push(...await loginFloodScenarios(options, service, credentials));
    }
    const rss = megabytes(await residentSetBytes(service.pid));
    const peakRss = megabytes(await rssSampler.stop());
    // V8 keeps the heap it grew under load for a while; its memory reducer gives it back.
    await delay(options.settleSeconds * 1000);
    const settledRss = megabytes(await residentSetBytes(service.pid));
    console.log(
      `  RSS: ${idleRss} MB idle before load, ${rssAfterRequests} MB after the request ` +
        `scenarios, ${peakRss} MB peak, ${rss} MB after all scenarios, ${settledRss} MB ` +
        `${options.settleSeconds} s later`,
    );
    const outcomes = judge(scenarios, rss);
    const selfHosted: ModeReport = {
      scenarios,
      rss_mb: rss,
      idle_rss_mb: idleRss,
      rss_after_request_scenarios_mb: rssAfterRequests,
      peak_rss_mb: peakRss,
      settled_rss_mb: settledRss,
      targets: outcomes,
    };
    await service.stop();
    if (options.cpuProf) console.log(`  CPU profile of the service written to ${PROFILE_DIR}/`);

    let embedded: ModeReport | undefined;
    if (options.embedded) {
      embedded = await embeddedMode(options, logDir, cleanup, ceilingRps, suffix);
    }

    console.log("\nSelf-hosted mode (Postgres + Redis), targets of issue 20:\n");
    console.log(renderTable(scenarios, outcomes, rss));
    if (embedded) {
      console.log(
        "\nEmbedded mode (PGlite in-process, in-memory limiter); its target is idle RSS:\n",
      );
      console.log(renderTable(embedded.scenarios, [], embedded.rss_mb));
      for (const o of embedded.targets ?? []) {
        console.log(
          `embedded idle RSS right after start: ${o.actual} MB (target ≤ ${o.threshold} MB: ` +
            `${o.pass ? "met" : "MISSED"})`,
        );
      }
    }
    const missed = [...outcomes, ...(embedded?.targets ?? [])].filter((o) => !o.pass);
    console.log(
      missed.length === 0
        ? "\nAll targets met."
        : `\n${missed.length} target(s) missed: ${
          missed.map((o) => `${o.scenario} ${o.metric}=${o.actual?.toFixed(2)}`).join(", ")
        }`,
    );
    const budgets = targetBudgets(scenarios, outcomes, ceilingRps, navigator.hardwareConcurrency);
    if (budgets.length > 0) console.log(`\n${renderBudgets(budgets)}`);

    await Deno.writeTextFile(
      RESULTS_FILE,
      JSON.stringify(
        {
          generated_at: new Date().toISOString(),
          machine: {
            ...host,
            load_average_start: loadAtStart,
            load_average_end: await loadAverage(),
          },
          load_generator: {
            name: generator.name,
            version: generator.version,
            threads: generator.name === "wrk" ? 1 : null,
            ...(generator.warning ? { warning: generator.warning } : {}),
          },
          settings: {
            connections: options.connections,
            duration_s: options.durationSeconds,
            warmup_s: options.warmupSeconds,
            stream_concurrency: options.streamConcurrency,
            login_concurrency: options.loginConcurrency,
            probe_rate: options.probeRate,
            settle_s: options.settleSeconds,
            service_env_overrides: options.serviceEnv,
            service_log_level: options.logLevel,
            password_scrypt_log_n: 17,
          },
          self_hosted: { ...selfHosted, target_budgets: budgets },
          ...(embedded ? { embedded } : {}),
          all_targets_met: missed.length === 0,
        },
        null,
        2,
      ) + "\n",
    );
    console.log(`Results written to ${RESULTS_FILE}`);
    return options.strict && missed.length > 0 ? 1 : 0;
  } catch (error) {
    keepLogs = true;
    console.error(`benchmark failed: ${error instanceof Error ? error.message : error}`);
    console.error(`last service log lines:\n${await tail(`${logDir}/service.log`, 10)}`);
    console.error(`service logs kept in ${logDir}`);
    return 2;
  } finally {
    await cleanup.run();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (!keepLogs) await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
}

/** The same request scenarios against embedded mode (PGlite, in-memory limiter). */
async function embeddedMode(
  options: Options,
  logDir: string,
  cleanup: Cleanup,
  ceilingRps: number,
  suffix: string,
): Promise<ModeReport> {
  const port = freePort();
  const server = await startServer({
    name: "embedded",
    args: serviceArgs({ ...options, cpuProf: false }),
    env: serviceEnv({
      PORT: String(port),
      HOSTNAME: "127.0.0.1",
      DATA_DIR: "memory://",
      LOG_LEVEL: options.logLevel,
      SEED_DEMO: "false",
      ...limiterSettings(options),
      ...options.serviceEnv,
    }),
    port,
    cwd: REPO_ROOT,
    logDir,
    readyPath: "/health/ready",
  });
  cleanup.add("stop embedded service", () => server.stop());
  const idleRss = megabytes(await residentSetBytes(server.pid));
  const credentials = await setUpCredentials(server.url, suffix);
  console.log("embedded (PGlite + in-memory limiter):");
  const scenarios = withRatios(
    await requestScenarios(options, server, credentials, "embedded: "),
    ceilingRps,
  );
  const rss = megabytes(await residentSetBytes(server.pid));
  console.log(`  RSS: ${idleRss} MB idle right after start, ${rss} MB after the request scenarios`);
  await server.stop();
  return {
    scenarios,
    rss_mb: rss,
    idle_rss_mb: idleRss,
    rss_after_request_scenarios_mb: rss,
    targets: judge(scenarios, idleRss, EMBEDDED_TARGETS),
  };
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    // Bad options: nothing was started yet.
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(2);
  }
}
