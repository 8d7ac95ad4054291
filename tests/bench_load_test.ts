/**
 * The benchmark's load generators (issue 20, item 1): wrk's Lua script and
 * the summary it prints, the fallback to autocannon, and pgbench's summary.
 * No timing assertions: these check arithmetic, parsing and what is sent.
 */
import assert from "node:assert/strict";
import { chooseLoadGenerator, WRK_MISSING_WARNING } from "../bench/load.ts";
import { parsePgbenchOutput } from "../bench/pgbench.ts";
import { EMBEDDED_TARGETS, judge, latency, type ScenarioResult } from "../bench/report.ts";
import { luaString, parseWrkOutput, runWrk, wrkScript } from "../bench/wrk.ts";

const WRK_OUTPUT = `Running 2s test @ http://127.0.0.1:18555/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   421.90us    1.09ms   9.72ms   90.10%
    Req/Sec    52.31k    19.97k   71.57k    70.00%
  104000 requests in 2.00s, 6.41MB read
  Non-2xx or 3xx responses: 4000
Requests/sec:  51522.25
Transfer/sec:      6.34MB

BENCH_JSON {"duration_us":2000000,"requests":104000,"bytes":6721674,"errors":{"connect":0,"read":2,"write":1,"status":4000,"timeout":3},"latency_us":{"min":16,"mean":421.9,"max":9723,"p50":44,"p90":1486,"p99":5566,"p999":8643}}
`;

Deno.test("wrk summary: successful answers per second and latency percentiles in ms", () => {
  const r = parseWrkOutput(WRK_OUTPUT);
  assert.equal(r.total, 104_000);
  assert.equal(r.ok, 100_000, "answers with a status of 400 or more are not successes");
  assert.equal(r.non2xx, 4000);
  assert.equal(r.requestsPerSecond, 50_000);
  assert.equal(r.errors, 3, "connect + read + write errors");
  assert.equal(r.timeouts, 3);
  assert.equal(r.durationSeconds, 2);
  assert.deepEqual(r.latencyMs, { p50: 0.044, p90: 1.486, p99: 5.566, max: 9.723, mean: 0.422 });
});

Deno.test("wrk summary: a run without the script's line is an error, not zeros", () => {
  assert.throws(
    () => parseWrkOutput(WRK_OUTPUT.replace(/^BENCH_JSON.*$/m, "")),
    /no BENCH_JSON line/,
  );
});

Deno.test("wrk script: Lua long strings survive brackets and a leading newline", () => {
  assert.equal(luaString("abc"), "[[abc]]");
  assert.equal(luaString('{"a":"]]"}'), '[=[{"a":"]]"}]=]');
  assert.equal(luaString("x]]y]=]z"), "[==[x]]y]=]z]==]");
  assert.equal(luaString("\nline"), "[[\n\nline]]", "Lua drops the first newline of [[...");
  const script = wrkScript({ method: "POST", body: "{}", headers: { authorization: "Bearer t" } });
  assert.match(script, /^wrk\.method = \[\[POST\]\]$/m);
  assert.match(script, /^wrk\.body = \[\[\{\}\]\]$/m);
  // `t[[k]]` would call t with a string; the spaces make it an index.
  assert.match(script, /^wrk\.headers\[ \[\[authorization\]\] \] = \[\[Bearer t\]\]$/m);
  assert.match(script, /^done = function\(summary, latency, requests\)$/m);
});

Deno.test("wrk sends the method, headers and body of the spec, and reports every answer", async () => {
  const seen: { method: string; auth: string | null; type: string | null; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (seen.length < 50) {
      seen.push({
        method: req.method,
        auth: req.headers.get("authorization"),
        type: req.headers.get("content-type"),
        body: await req.text(),
      });
    }
    return new Response(null, { status: seen.length % 2 === 0 ? 200 : 429 });
  });
  try {
    const body = JSON.stringify({ prompt: "a ]] b\nc", n: 1 });
    const r = await runWrk({
      url: `http://127.0.0.1:${server.addr.port}/v1/query`,
      connections: 2,
      durationSeconds: 1,
      method: "POST",
      headers: { authorization: "Bearer secret-token", "content-type": "application/json" },
      body,
    });
    assert.ok(seen.length > 0 && r.total > 0);
    for (const request of seen) {
      assert.deepEqual(request, {
        method: "POST",
        auth: "Bearer secret-token",
        type: "application/json",
        body,
      });
    }
    assert.ok(r.non2xx > 0, "the 429 answers are counted as failures");
    assert.equal(r.ok + r.non2xx, r.total);
  } finally {
    await server.shutdown();
  }
});

Deno.test("load generator: wrk when installed, else autocannon with a printed warning", async () => {
  const probes = (wrk: string | null) => ({
    wrkVersion: () => Promise.resolve(wrk),
    autocannonVersion: () => Promise.resolve("9.0.0"),
  });
  const withWrk = await chooseLoadGenerator(undefined, probes("wrk 4.1.0"));
  assert.equal(withWrk.name, "wrk");
  assert.equal(withWrk.version, "wrk 4.1.0");
  assert.equal(withWrk.warning, undefined);

  const without = await chooseLoadGenerator(undefined, probes(null));
  assert.equal(without.name, "autocannon");
  assert.equal(without.warning, WRK_MISSING_WARNING);
  assert.match(WRK_MISSING_WARNING, /wrk is not installed/);
  assert.match(WRK_MISSING_WARNING, /apt-get install wrk/);

  const chosen = await chooseLoadGenerator("autocannon", probes("wrk 4.1.0"));
  assert.equal(chosen.name, "autocannon");
  assert.equal(chosen.warning, undefined, "no warning when autocannon is asked for");

  await assert.rejects(() => chooseLoadGenerator("ab", probes("wrk")), /wrk or autocannon/);
});

Deno.test("pgbench summary: transactions per second, transactions, failures, latency", () => {
  const r = parsePgbenchOutput(`pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/turn.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 1
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 51550
number of failed transactions: 2 (0.004%)
latency average = 1.552 ms
initial connection time = 16.300 ms
tps = 5155.123456 (without initial connection time)
`);
  assert.deepEqual(r, {
    transactionsPerSecond: 5155.123456,
    transactions: 51550,
    failed: 2,
    latencyMs: 1.552,
  });
  assert.throws(() => parsePgbenchOutput("pgbench: error: connection refused"), /summary/);
});

Deno.test("latency cells: sub-millisecond wrk figures keep two decimals", () => {
  assert.equal(latency(0.044), "0.04");
  assert.equal(latency(5.566), "5.6");
  assert.equal(latency(33.2), "33");
  assert.equal(latency(0), "<1", "autocannon's whole milliseconds");
  assert.equal(latency(7), "7");
  assert.equal(latency(null), "–");
});

Deno.test("targets of issue 20: query against pgbench, whoami p99, embedded idle RSS", () => {
  const row = (id: string, extra: Partial<ScenarioResult>): ScenarioResult => ({
    id,
    title: id,
    requestsPerSecond: 1000,
    p50Ms: 1,
    p99Ms: 4,
    ratio: 0.5,
    failures: 0,
    ...extra,
  });
  const outcome = (results: ScenarioResult[], scenario: string, metric: string) =>
    judge(results, 100).find((o) => o.scenario === scenario && o.metric === metric);
  assert.equal(
    outcome([row("query_echo", { detail: { vs_pgbench: 0.6 } })], "query_echo", "vsPgbench")?.pass,
    true,
  );
  assert.equal(
    outcome([row("query_echo", { detail: { vs_pgbench: 0.4 } })], "query_echo", "vsPgbench")?.pass,
    false,
  );
  assert.equal(
    outcome([row("query_echo", {})], "query_echo", "vsPgbench")?.pass,
    false,
    "no pgbench, no pass",
  );
  assert.equal(outcome([row("whoami_jwt", { p99Ms: 5.2 })], "whoami_jwt", "p99Ms")?.pass, false);
  assert.equal(outcome([row("whoami_jwt", { ratio: 0.36 })], "whoami_jwt", "ratio")?.pass, true);
  assert.equal(outcome([row("liveness", { ratio: 0.69 })], "liveness", "ratio")?.pass, false);
  assert.equal(judge([], 299, EMBEDDED_TARGETS)[0]?.pass, true);
  assert.equal(judge([], 301, EMBEDDED_TARGETS)[0]?.pass, false);
});
