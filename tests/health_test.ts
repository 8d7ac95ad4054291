import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { startAppBehindProxy } from "./support/proxied_database.ts";

Deno.test("health endpoints", async (t) => {
  const h = await startTestApp();
  try {
    await t.step("liveness touches nothing and says alive", async () => {
      const res = await h.request("/health/live");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "alive" });
    });

    await t.step("readiness is ready with a database", async () => {
      const res = await h.request("/health/ready");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ready" });
    });

    await t.step("health reports components with status and latency", async () => {
      const res = await h.request("/health");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.status, "healthy");
      assert.equal(typeof body.version, "string");
      assert.equal(typeof body.uptime_s, "number");
      assert.equal(body.components.database.status, "up");
      assert.equal(typeof body.components.database.latency_ms, "number");
    });

    await t.step("readiness is 503 while draining", async () => {
      h.services.lifecycle.beginDrain();
      const res = await h.request("/health/ready");
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: "not_ready", reason: "draining" });
      const live = await h.request("/health/live");
      assert.equal(live.status, 200);
      await live.body?.cancel();
    });
  } finally {
    await h.close();
  }
});

Deno.test("readiness follows the database down and back up without a restart", async () => {
  // A proxy in front of the database lets the test cut it off.
  const { app, proxy, close } = await startAppBehindProxy();
  try {
    const first = await app.request("/health/ready");
    assert.equal(first.status, 200);
    await first.body?.cancel();

    proxy.cut();
    const down = await app.request("/health/ready");
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { status: "not_ready", reason: "database_unreachable" });
    const health = await app.request("/health");
    assert.equal(health.status, 503);
    const body = await health.json();
    assert.equal(body.status, "unhealthy");
    assert.equal(body.components.database.status, "down");

    proxy.restore();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      const res = await app.request("/health/ready");
      status = res.status;
      await res.body?.cancel();
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "readiness recovers once the database is back");
  } finally {
    await close();
  }
});
