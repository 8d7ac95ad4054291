/**
 * The liveness probe answered before the router (src/http/liveness_probe.ts)
 * gives the router's answer, and is counted and logged like any request.
 */
import assert from "node:assert/strict";
import { livenessProbe } from "../src/http/liveness_probe.ts";
import { startServer } from "../src/server.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";

/** Header name → value, without the request id (new per answer). */
function headersOf(response: Response): Record<string, string> {
  return Object.fromEntries(
    [...response.headers].filter(([name]) => name !== "x-request-id").sort(),
  );
}

async function compareWithRouter(h: TestApp, init: RequestInit = {}): Promise<void> {
  const probe = livenessProbe(h.services, { corsOrigins: h.config.CORS_ORIGINS });
  const url = "http://127.0.0.1:8000/health/live";
  const fast = probe(new Request(url, init));
  assert.ok(fast, "a plain probe is answered before the router");
  const routed = await h.app.fetch(new Request(url, init));
  assert.equal(fast.status, routed.status);
  assert.deepEqual(headersOf(fast), headersOf(routed));
  assert.deepEqual(await fast.json(), await routed.json());
  assert.ok(fast.headers.get("x-request-id"));
}

Deno.test("liveness before the router: the router's answer, counted and logged", async (t) => {
  await t.step("same status, headers and body as getLiveness through the router", async () => {
    const h = await startTestApp();
    try {
      await compareWithRouter(h);
      await compareWithRouter(h, { headers: { "x-request-id": "probe-7" } });
    } finally {
      await h.close();
    }
  });

  await t.step("the same with CORS origins configured (Vary: Origin)", async () => {
    const h = await startTestApp({ CORS_ORIGINS: "https://app.example.com" });
    try {
      await compareWithRouter(h);
    } finally {
      await h.close();
    }
  });

  await t.step("anything but a plain GET goes through the router", async () => {
    const h = await startTestApp({ CORS_ORIGINS: "https://app.example.com" });
    try {
      const probe = livenessProbe(h.services, { corsOrigins: h.config.CORS_ORIGINS });
      const base = "http://127.0.0.1:8000";
      assert.equal(probe(new Request(`${base}/health/live?verbose=1`)), undefined);
      assert.equal(probe(new Request(`${base}/x/health/live`)), undefined);
      assert.equal(probe(new Request(`${base}/health/liveness`)), undefined);
      assert.equal(probe(new Request(`${base}/health/live`, { method: "HEAD" })), undefined);
      assert.equal(
        probe(
          new Request(`${base}/health/live`, { headers: { origin: "https://app.example.com" } }),
        ),
        undefined,
      );
    } finally {
      await h.close();
    }
  });

  await t.step("over a real socket: request id echoed, metrics and log line", async () => {
    // Outside embedded mode /metrics answers only with its token.
    const metricsToken = `metrics-${crypto.randomUUID()}`;
    const h = await startTestApp({ METRICS_TOKEN: metricsToken });
    const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
    try {
      const url = `http://127.0.0.1:${server.port}/health/live`;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url, { headers: { "x-request-id": `live-${i}` } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("x-request-id"), `live-${i}`);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.deepEqual(await res.json(), { status: "alive" });
      }
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken}` },
      })).text();
      assert.match(
        metrics,
        /gatehouse_http_requests_total\{method="GET",route="\/health\/live",status="200"\} 3/,
      );
      const lines = h.log.lines.filter((l) =>
        l.msg === "request" && typeof l.request_id === "string" &&
        l.request_id.startsWith("live-")
      );
      assert.equal(lines.length, 3);
      assert.equal(lines[0]!.level, "debug", "answered probes are logged at debug");
      assert.equal(lines[0]!.route, "/health/live");
      assert.equal(lines[0]!.status, 200);
    } finally {
      await server.shutdown();
      await h.close();
    }
  });
});
