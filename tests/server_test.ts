import assert from "node:assert/strict";
import { SWAGGER_UI_VERSION } from "../src/routes/docs.ts";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";

Deno.test("shutdown finishes by its deadline even with an open stream", async () => {
  const h = await startTestApp({ SHUTDOWN_TIMEOUT_MS: "500" }, {
    extend: (app) => {
      // A stream that never ends on its own, like an idle SSE connection.
      app.get("/v1/test-forever", () => {
        let timer: ReturnType<typeof setInterval> | undefined;
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            timer = setInterval(
              () => controller.enqueue(new TextEncoder().encode(": ping\n\n")),
              50,
            );
          },
          cancel() {
            clearInterval(timer);
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      });
    },
  });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/v1/test-forever`);
    const reader = res.body!.getReader();
    await reader.read();

    const ready = await fetch(`http://127.0.0.1:${server.port}/health/ready`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();

    let resolved = false;
    const stopping = server.shutdown().then(() => (resolved = true));
    // While draining, readiness reports 503 on the in-process app.
    const draining = await h.request("/health/ready");
    assert.equal(draining.status, 503);
    await draining.body?.cancel();
    await stopping;
    assert.equal(resolved, true);
    assert.ok(
      h.log.lines.some((l) => l.msg === "shutdown deadline reached with requests still open"),
    );
    await reader.cancel().catch(() => {});
  } finally {
    await server.finished.catch(() => {});
    await h.close();
  }
});

Deno.test("OpenAPI document and Swagger UI", async (t) => {
  const h = await startTestApp();
  try {
    const res = await h.request("/openapi.json");
    assert.equal(res.status, 200);
    const doc = await res.json();
    await t.step("is OpenAPI 3.1 with servers, tags and both security schemes", () => {
      assert.equal(doc.openapi, "3.1.0");
      assert.equal(doc.servers[0].url, "https://gatehouse.test");
      assert.ok(doc.tags.length > 0);
      assert.equal(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
      assert.equal(doc.components.securitySchemes.apiKeyHeader.in, "header");
      assert.equal(doc.components.securitySchemes.apiKeyHeader.name, "X-API-Key");
    });
    await t.step("every operation has an operationId, a tag and declared errors", () => {
      for (
        const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)
      ) {
        for (const [method, op] of Object.entries(item)) {
          assert.equal(typeof op.operationId, "string", `${method} ${path} operationId`);
          assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${method} ${path} tags`);
          assert.ok(Array.isArray(op.security), `${method} ${path} declares security`);
          const responses = op.responses as Record<string, unknown>;
          assert.ok(responses["500"], `${method} ${path} declares 500`);
        }
      }
    });
    await t.step("health operations are public", () => {
      assert.deepEqual(doc.paths["/health/live"].get.security, []);
      assert.equal(doc.paths["/health/live"].get.operationId, "getLiveness");
      assert.equal(doc.paths["/health/ready"].get.operationId, "getReadiness");
      assert.equal(doc.paths["/health"].get.operationId, "getHealth");
    });
    await t.step("/docs serves Swagger UI pointing at the document", async () => {
      const docs = await h.request("/docs");
      assert.equal(docs.status, 200);
      const html = await docs.text();
      assert.match(html, /swagger/i);
      assert.ok(!/https?:\/\//.test(html), "the page loads nothing from another host");
      const init = await (await h.request("/docs/init.js")).text();
      assert.match(init, /\/openapi\.json/);
      // Every script and stylesheet comes from this service, pinned to the package version.
      for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        const asset = await h.request(src!);
        assert.equal(asset.status, 200, src);
        await asset.body?.cancel();
        if (src!.includes("/assets/")) {
          assert.match(src!, new RegExp(`/docs/assets/${SWAGGER_UI_VERSION}/`));
          assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
        }
      }
      const missing = await h.request(`/docs/assets/${SWAGGER_UI_VERSION}/package.json`);
      assert.equal(missing.status, 404, "only the listed assets are served");
      await missing.body?.cancel();
    });
  } finally {
    await h.close();
  }
});
