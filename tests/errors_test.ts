import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../src/http/env.ts";
import { ApiError } from "../src/errors.ts";
import { jsonBody, jsonResponse } from "../src/routes/openapi_responses.ts";
import { startTestApp } from "./support/harness.ts";

/** A tiny route with a body, used to exercise the error contract. */
function addProbeRoutes(app: App) {
  const echo = createRoute({
    method: "post",
    path: "/v1/test-echo",
    request: {
      body: jsonBody(z.object({ name: z.string().min(2), count: z.number().int() }), {
        name: "xy",
        count: 1,
      }),
    },
    responses: { 200: jsonResponse(z.object({ name: z.string() }), "ok") },
  });
  app.openapi(echo, (c) => c.json({ name: c.req.valid("json").name }, 200));
  app.get("/v1/test-crash", () => {
    throw new Error("secret-internal-detail: select * from users");
  });
  app.get("/v1/test-api-error", () => {
    throw new ApiError("conflict", "Already there.", undefined, { cause: new Error("dup key") });
  });
}

function assertErrorShape(body: Record<string, unknown>, code: string, requestId: string | null) {
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  assert.equal(body.request_id, requestId);
}

Deno.test("error contract", async (t) => {
  const h = await startTestApp({}, { extend: addProbeRoutes });
  try {
    await t.step("unknown route is 404 with the error body", async () => {
      const res = await h.request("/v1/nothing-here");
      assert.equal(res.status, 404);
      assertErrorShape(await res.json(), "not_found", res.headers.get("x-request-id"));
    });

    await t.step("known path with the wrong method is 405 with Allow", async () => {
      const res = await h.request("/health/live", { method: "DELETE" });
      assert.equal(res.status, 405);
      assert.match(res.headers.get("allow") ?? "", /GET/);
      assertErrorShape(await res.json(), "method_not_allowed", res.headers.get("x-request-id"));
    });

    await t.step("malformed JSON is 400 bad_request", async () => {
      const res = await h.request("/v1/test-echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      assert.equal(res.status, 400);
      assertErrorShape(await res.json(), "bad_request", res.headers.get("x-request-id"));
    });

    await t.step("schema failure is 422 with every issue listed", async () => {
      const res = await h.json("POST", "/v1/test-echo", { name: "x", count: "many" });
      assert.equal(res.status, 422);
      const body = await res.json();
      assertErrorShape(body, "validation_error", res.headers.get("x-request-id"));
      const paths = body.detail.issues.map((i: { path: string[] }) => i.path.join("."));
      assert.deepEqual(paths.sort(), ["count", "name"]);
    });

    await t.step("a valid body passes", async () => {
      const res = await h.json("POST", "/v1/test-echo", { name: "xy", count: 2 });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { name: "xy" });
    });

    await t.step("non-JSON body is 415", async () => {
      const res = await h.request("/v1/test-echo", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "name=xy",
      });
      assert.equal(res.status, 415);
      assertErrorShape(await res.json(), "unsupported_media_type", res.headers.get("x-request-id"));
    });

    await t.step("body over the limit is 413 (Content-Length)", async () => {
      const big = JSON.stringify({ name: "x".repeat(1024 * 1024 + 10), count: 1 });
      const res = await h.request("/v1/test-echo", {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(big.length) },
        body: big,
      });
      assert.equal(res.status, 413);
      assertErrorShape(await res.json(), "payload_too_large", res.headers.get("x-request-id"));
    });

    await t.step("body over the limit is 413 (chunked, no Content-Length)", async () => {
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name":"'));
          if (sent > 1.5 * 1024 * 1024) {
            controller.enqueue(new TextEncoder().encode('","count":1}'));
            controller.close();
            return;
          }
          controller.enqueue(chunk);
          sent += chunk.length;
        },
      });
      const res = await h.request("/v1/test-echo", {
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        body: stream,
      });
      assert.equal(res.status, 413);
      assertErrorShape(await res.json(), "payload_too_large", res.headers.get("x-request-id"));
    });

    await t.step("unexpected errors are a generic 500; the cause is logged, not sent", async () => {
      const res = await h.request("/v1/test-crash", { headers: { "x-request-id": "crash-1" } });
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.doesNotMatch(text, /secret-internal-detail|select|stack|at /i);
      assertErrorShape(JSON.parse(text), "internal_error", "crash-1");
      const logged = h.log.lines.find((l) => l.msg === "unhandled error");
      assert.ok(logged, "the cause is logged");
      assert.equal(logged.request_id, "crash-1");
      assert.match(JSON.stringify(logged), /secret-internal-detail/);
    });

    await t.step("ApiError keeps its status and public message", async () => {
      const res = await h.request("/v1/test-api-error");
      assert.equal(res.status, 409);
      const body = await res.json();
      assert.equal(body.message, "Already there.");
      assert.doesNotMatch(JSON.stringify(body), /dup key/);
    });

    await t.step("sane X-Request-Id is echoed, anything else replaced", async () => {
      const sane = await h.request("/health/live", {
        headers: { "x-request-id": "abc-123_x.y:z" },
      });
      assert.equal(sane.headers.get("x-request-id"), "abc-123_x.y:z");
      await sane.body?.cancel();
      const evil = await h.request("/health/live", {
        headers: { "x-request-id": "<script>alert(1)</script>" },
      });
      const id = evil.headers.get("x-request-id") ?? "";
      assert.notEqual(id, "<script>alert(1)</script>");
      assert.match(id, /^[0-9a-f-]{36}$/);
      await evil.body?.cancel();
      const long = await h.request("/health/live", {
        headers: { "x-request-id": "a".repeat(129) },
      });
      assert.equal(long.headers.get("x-request-id")?.length, 36);
      await long.body?.cancel();
    });

    await t.step("API answers carry the API security headers and are never cached", async () => {
      for (const path of ["/health/live", "/v1/nothing-here", "/openapi.json"]) {
        const res = await h.request(path);
        await res.body?.cancel();
        assert.equal(res.headers.get("cache-control"), "no-store", path);
        assert.equal(res.headers.get("content-security-policy"), "frame-ancestors 'none'", path);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
        assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=\d+/, path);
        assert.equal(res.headers.get("x-frame-options"), "DENY", path);
        assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
        assert.equal(res.headers.get("cross-origin-resource-policy"), "same-origin", path);
        // Headers meant for HTML documents stay off JSON.
        assert.equal(res.headers.get("x-xss-protection"), null, path);
      }
    });

    await t.step("a route's own Cache-Control is kept", async () => {
      const res = await h.request("/.well-known/jwks.json");
      await res.body?.cancel();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "public, max-age=300");
    });

    await t.step("the Swagger UI page gets the document security headers", async () => {
      const res = await h.request("/docs");
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      await res.body?.cancel();
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/, "no inline or third-party script");
      assert.ok(!/https?:/.test(csp), "no other origin is allowed");
      assert.equal(res.headers.get("x-xss-protection"), "0");
      assert.equal(res.headers.get("cache-control"), null, "the page itself may be cached");
    });

    await t.step("one JSON log line per request, without query strings or headers", async () => {
      const before = h.log.lines.length;
      const res = await h.request("/health/live?token=supersecret", {
        headers: { authorization: "Bearer topsecretvalue", "x-request-id": "log-check" },
      });
      await res.body?.cancel();
      const lines = h.log.lines.slice(before).filter((l) => l.msg === "request");
      assert.equal(lines.length, 1);
      const line = lines[0]!;
      assert.equal(line.method, "GET");
      assert.equal(line.route, "/health/live");
      assert.equal(line.status, 200);
      assert.equal(line.request_id, "log-check");
      assert.equal(typeof line.duration_ms, "number");
      assert.doesNotMatch(JSON.stringify(line), /supersecret|topsecretvalue/);
    });
  } finally {
    await h.close();
  }
});

Deno.test("CORS allows only the configured origins", async () => {
  const h = await startTestApp({ CORS_ORIGINS: "https://app.example.com" });
  try {
    const allowed = await h.request("/health/live", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
    });
    await allowed.body?.cancel();
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
    const foreign = await h.request("/health/live", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    await foreign.body?.cancel();
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);

    // A simple (non-preflight) request from the allowed origin exposes our headers.
    const simple = await h.request("/health/live", {
      headers: { origin: "https://app.example.com" },
    });
    await simple.body?.cancel();
    assert.equal(simple.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.match(simple.headers.get("access-control-expose-headers") ?? "", /X-Request-Id/);
    assert.match(simple.headers.get("vary") ?? "", /Origin/);
    assert.ok(simple.headers.get("x-request-id"));

    // Without an Origin (servers, probes) there is nothing to allow, but caches must still vary.
    const server = await h.request("/health/live");
    await server.body?.cancel();
    assert.equal(server.headers.get("access-control-allow-origin"), null);
    assert.match(server.headers.get("vary") ?? "", /Origin/);
    assert.ok(server.headers.get("x-request-id"));
  } finally {
    await h.close();
  }
});
