import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv } from "../src/http/env.ts";
import { GatehouseMetrics } from "../src/metrics/gatehouse.ts";
import { MAX_SERIES_PER_METRIC, Registry } from "../src/metrics/registry.ts";
import { enforceDecision } from "../src/ratelimit/enforce.ts";
import { failOpenOutcome } from "../src/ratelimit/outcome.ts";
import type { Services } from "../src/services.ts";
import { startTestApp, TEST_DATABASE_URL, type TestApp } from "./support/harness.ts";
import { startSelfHostedTestApp } from "./support/self_hosted.ts";
import { createKey, registerUser } from "./support/users.ts";

const METRICS_TOKEN = "metrics-token-" + crypto.randomUUID();

/** One exposition line: `name{labels} value`. */
const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;

/** Series → value; asserts every line is a comment or a well-formed sample. */
function parseExposition(text: string): Map<string, number> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const samples = new Map<string, number>();
  for (const line of text.split("\n").filter(Boolean)) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    assert.match(line, SAMPLE_LINE);
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1).replace("+Inf", "Infinity")));
  }
  return samples;
}

async function scrape(h: TestApp, token = METRICS_TOKEN): Promise<Map<string, number>> {
  const res = await h.request("/metrics", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  return parseExposition(await res.text());
}

Deno.test("metrics registry renders the Prometheus text format", async (t) => {
  await t.step("counters, gauges and labels with escaping", async () => {
    const r = new Registry();
    const c = r.counter("demo_total", "A counter.\nSecond line \\ backslash.", ["path"]);
    c.inc({ path: 'a"b\\c\nd' });
    c.inc({ path: 'a"b\\c\nd' }, 2);
    c.inc({ path: "x" }, -5); // ignored (counters only go up): no series is created
    const g = r.gauge("demo_gauge", "A gauge.");
    g.set({}, 1.5);
    g.dec({}, 0.5);
    const text = await r.render();
    assert.equal(
      text,
      [
        "# HELP demo_total A counter.\\nSecond line \\\\ backslash.",
        "# TYPE demo_total counter",
        'demo_total{path="a\\"b\\\\c\\nd"} 3',
        "# HELP demo_gauge A gauge.",
        "# TYPE demo_gauge gauge",
        "demo_gauge 1",
        "",
      ].join("\n"),
    );
    parseExposition(text);
  });

  await t.step("histograms have cumulative buckets, +Inf, _sum and _count", async () => {
    const r = new Registry();
    const h = r.histogram("demo_seconds", "A histogram.", ["op"], [1, 0.1, 0.5]);
    for (const v of [0.05, 0.1, 0.3, 2, Number.NaN]) h.observe({ op: "read" }, v);
    const samples = parseExposition(await r.render());
    assert.equal(samples.get('demo_seconds_bucket{op="read",le="0.1"}'), 2);
    assert.equal(samples.get('demo_seconds_bucket{op="read",le="0.5"}'), 3);
    assert.equal(samples.get('demo_seconds_bucket{op="read",le="1"}'), 3);
    assert.equal(samples.get('demo_seconds_bucket{op="read",le="+Inf"}'), 4);
    assert.equal(samples.get('demo_seconds_count{op="read"}'), 4);
    assert.ok(Math.abs(samples.get('demo_seconds_sum{op="read"}')! - 2.45) < 1e-9);
  });

  await t.step("bad names, duplicates and runaway label sets are refused or folded", () => {
    const r = new Registry();
    assert.throws(() => r.counter("bad-name", "x"), RangeError);
    assert.throws(() => r.counter("ok_total", "x", ["le"]), RangeError);
    r.counter("dup_total", "x");
    assert.throws(() => r.counter("dup_total", "x"), RangeError);
    const c = r.counter("many_total", "x", ["id"]);
    for (let i = 0; i < MAX_SERIES_PER_METRIC + 10; i++) c.inc({ id: String(i) });
    assert.equal(c.get({ id: "_overflow_" }), 10);
  });

  await t.step("bound series count into the same series as labelled calls", () => {
    const r = new Registry();
    const c = r.counter("bound_total", "x", ["op"]);
    const h = r.histogram("bound_seconds", "x", ["op"], [0.1, 1]);
    const boundCounter = c.labels({ op: "read" });
    const boundHistogram = h.labels({ op: "read" });
    c.inc({ op: "read" });
    boundCounter.inc();
    boundCounter.inc(2);
    boundCounter.inc(-1); // ignored, as with inc(labels, -1)
    assert.equal(c.get({ op: "read" }), 4);
    assert.equal(c.get({ op: "write" }), 0);
    h.observe({ op: "read" }, 0.05);
    boundHistogram.observe(0.5);
    boundHistogram.observe(Number.NaN); // ignored
    assert.deepEqual(h.snapshot({ op: "read" }), { count: 2, sum: 0.55 });
  });

  await t.step("model calls: count, tokens, cost and latency per model", async () => {
    const m = new GatehouseMetrics();
    m.recordModelCall({
      model: "gpt-x",
      status: "complete",
      inputTokens: 12,
      outputTokens: 30,
      costUsd: 0.0025,
      latencyMs: 420,
    });
    m.recordModelCall({
      model: "gpt-x",
      status: "error",
      inputTokens: 12,
      outputTokens: 0,
      costUsd: 0,
      latencyMs: 80,
    });
    const samples = parseExposition(await m.render());
    assert.equal(samples.get('gatehouse_model_calls_total{model="gpt-x",status="complete"}'), 1);
    assert.equal(samples.get('gatehouse_model_calls_total{model="gpt-x",status="error"}'), 1);
    assert.equal(samples.get('gatehouse_model_tokens_total{model="gpt-x",direction="input"}'), 24);
    assert.equal(samples.get('gatehouse_model_tokens_total{model="gpt-x",direction="output"}'), 30);
    assert.equal(samples.get('gatehouse_model_cost_usd_total{model="gpt-x"}'), 0.0025);
    assert.equal(
      samples.get('gatehouse_model_call_duration_seconds_count{model="gpt-x",status="complete"}'),
      1,
    );
    assert.equal(samples.get('gatehouse_build_info{version="0.1.0"}') !== undefined, true);
    assert.ok(samples.get("process_resident_memory_bytes")! > 0);
  });
});

Deno.test("rate-limit decisions are counted per policy and outcome", async (t) => {
  const metrics = new GatehouseMetrics();
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("services", { metrics } as unknown as Services);
    await next();
  });
  const window = { name: "minute", limit: 5, windowSeconds: 60 };
  const failOpen = { outcomes: [failOpenOutcome(window)], success: true, timedOut: true };
  app.get("/open", (c) => {
    enforceDecision(c, { ...failOpen, scope: "api_key" }, false, c.get("services").metrics);
    return c.text("ok");
  });
  app.get("/closed", (c) => {
    enforceDecision(c, { ...failOpen, scope: "ip" }, true, c.get("services").metrics);
    return c.text("ok");
  });
  app.onError((_e, c) => c.text("refused", 503));

  await t.step("a limiter timeout on a lenient policy is failed_open", async () => {
    assert.equal((await app.request("/open")).status, 200);
    assert.equal(metrics.rateLimitDecisions.get({ policy: "api_key", decision: "failed_open" }), 1);
  });
  await t.step("a limiter timeout on a strict policy is failed_closed", async () => {
    assert.equal((await app.request("/closed")).status, 503);
    assert.equal(metrics.rateLimitDecisions.get({ policy: "ip", decision: "failed_closed" }), 1);
  });
});

Deno.test("/metrics over HTTP", async (t) => {
  const h = await startTestApp({ METRICS_TOKEN, RATE_LIMIT_IP_PER_MINUTE: "3" });
  try {
    await t.step("needs the metrics bearer token when METRICS_TOKEN is set", async () => {
      for (
        const headers of [
          {} as Record<string, string>,
          { authorization: "Bearer wrong-token-of-some-length" },
          { authorization: `Basic ${METRICS_TOKEN}` },
          { authorization: `Bearer ${METRICS_TOKEN}x` },
          { "x-api-key": METRICS_TOKEN },
        ]
      ) {
        const res = await h.request("/metrics", { headers });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="metrics"');
        const body = await res.json();
        assert.equal(body.error, "unauthorized");
        assert.equal(body.request_id, res.headers.get("x-request-id"));
      }
    });

    await t.step("counts requests and latency per route pattern and status", async () => {
      for (let i = 0; i < 2; i++) await (await h.request("/health/live")).body?.cancel();
      await (await h.request("/no/such/path/12345")).body?.cancel();
      const samples = await scrape(h);
      const live = 'method="GET",route="/health/live",status="200"';
      assert.equal(samples.get(`gatehouse_http_requests_total{${live}}`), 2);
      assert.equal(samples.get(`gatehouse_http_request_duration_seconds_count{${live}}`), 2);
      assert.equal(
        samples.get(`gatehouse_http_request_duration_seconds_bucket{${live},le="+Inf"}`),
        2,
      );
      assert.equal(
        samples.get('gatehouse_http_requests_total{method="GET",route="unmatched",status="404"}'),
        1,
      );
      // The 401 scrapes of the previous step are counted too; the token never appears.
      assert.equal(
        samples.get('gatehouse_http_requests_total{method="GET",route="/metrics",status="401"}'),
        5,
      );
      const text = [...samples.keys()].join("\n");
      assert.doesNotMatch(text, /12345/);
      assert.doesNotMatch(h.log.text(), new RegExp(METRICS_TOKEN));
    });

    await t.step("uses route patterns, never ids", async () => {
      const user = await registerUser(h, { ip: "192.0.2.50" });
      const res = await h.request(`/v1/users/${user.id}`, {
        headers: { authorization: `Bearer ${user.accessToken}` },
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const samples = await scrape(h);
      assert.equal(
        samples.get(
          'gatehouse_http_requests_total{method="GET",route="/v1/users/:user_id",status="200"}',
        ),
        1,
      );
      assert.doesNotMatch([...samples.keys()].join("\n"), new RegExp(user.id));
    });

    await t.step("counts rate-limit decisions per policy: allowed and denied", async () => {
      const user = await registerUser(h, { ip: "192.0.2.60" });
      const key = await createKey(h, user);
      const whoami = await h.request("/v1/auth/whoami", {
        headers: { authorization: `Bearer ${key.key}` },
      });
      assert.equal(whoami.status, 200);
      await whoami.body?.cancel();
      // The per-IP policy allows 3 auth calls a minute: the registration and two logins
      // pass, the fourth call is refused.
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await h.json("POST", "/v1/auth/login", {
          email: user.email,
          password: user.password,
        }, { ip: "192.0.2.60" });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      const samples = await scrape(h);
      const count = (policy: string, decision: string) =>
        samples.get(
          `gatehouse_rate_limit_decisions_total{policy="${policy}",decision="${decision}"}`,
        ) ?? 0;
      assert.ok(count("ip", "allowed") >= 4); // both registrations, two logins
      assert.equal(count("ip", "denied"), 1);
      // A key without a tier of its own counts against its owner's budget.
      assert.ok(count("user", "allowed") >= 3); // createKey, GET /v1/users/{id}, whoami (key)
    });

    await t.step("probes the database and the rate limiter on each scrape", async () => {
      const samples = await scrape(h);
      assert.equal(samples.get('gatehouse_dependency_up{dependency="database"}'), 1);
      assert.equal(samples.get('gatehouse_dependency_up{dependency="rate_limiter"}'), 1);
      assert.ok(samples.get('gatehouse_dependency_latency_seconds{dependency="database"}')! >= 0);
      assert.ok(
        samples.get('gatehouse_dependency_probe_duration_seconds_count{dependency="database"}')! >=
          1,
      );
      assert.equal(samples.get("gatehouse_http_requests_in_flight"), 1); // the scrape itself
    });

    await t.step("model calls recorded through services.metrics show up", async () => {
      h.services.metrics.recordModelCall({
        model: "echo-fast",
        status: "complete",
        inputTokens: 5,
        outputTokens: 7,
        costUsd: 0,
        latencyMs: 3,
      });
      const samples = await scrape(h);
      assert.ok(
        samples.get('gatehouse_model_calls_total{model="echo-fast",status="complete"}')! >= 1,
      );
    });

    await t.step("is not part of the OpenAPI document", async () => {
      const doc = await (await h.request("/openapi.json")).json();
      assert.equal(doc.paths["/metrics"], undefined);
    });
  } finally {
    await h.close();
  }
});

Deno.test("/metrics without METRICS_TOKEN is open in embedded mode only", async () => {
  const h = await startTestApp(TEST_DATABASE_URL ? { METRICS_TOKEN } : {});
  try {
    const headers = TEST_DATABASE_URL ? { authorization: `Bearer ${METRICS_TOKEN}` } : undefined;
    const res = await h.request("/metrics", { headers });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^# HELP gatehouse_build_info /m);
  } finally {
    await h.close();
  }
  // Embedded mode proper (no DATABASE_URL), in both CI modes.
  const embedded = await startTestApp({ DATABASE_URL: "", DATA_DIR: "memory://" });
  try {
    assert.equal(embedded.config.mode, "embedded");
    assert.equal(embedded.config.METRICS_TOKEN, undefined);
    const res = await embedded.request("/metrics");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await embedded.close();
  }
});

Deno.test("/metrics outside embedded mode answers only with METRICS_TOKEN, and is 404 without one", async () => {
  const unset = await startSelfHostedTestApp();
  try {
    assert.notEqual(unset.config.mode, "embedded");
    assert.equal(unset.config.METRICS_TOKEN, undefined);
    const res = await unset.request("/metrics");
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error, "not_found");
    const guessed = await unset.request("/metrics", {
      headers: { authorization: "Bearer anything-at-all-here" },
    });
    assert.equal(guessed.status, 404);
    await guessed.body?.cancel();
  } finally {
    await unset.close();
  }
  const set = await startSelfHostedTestApp({ METRICS_TOKEN });
  try {
    const denied = await set.request("/metrics");
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const res = await set.request("/metrics", {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await set.close();
  }
});
