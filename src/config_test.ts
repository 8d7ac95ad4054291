import assert from "node:assert/strict";
import { ConfigError, loadConfig, parseDurations } from "./config.ts";

Deno.test("config", async (t) => {
  await t.step("no DATABASE_URL means embedded mode with documented defaults", () => {
    const config = loadConfig({});
    assert.equal(config.mode, "embedded");
    assert.equal(config.PORT, 8000);
    assert.equal(config.HOSTNAME, "0.0.0.0");
    assert.equal(config.DATA_DIR, "./.data");
    assert.equal(config.rateLimitBackend, "memory");
    assert.equal(config.BODY_LIMIT_BYTES, 1024 * 1024);
    assert.equal(config.SHUTDOWN_TIMEOUT_MS, 10_000);
  });

  await t.step("self-hosted and deploy modes follow from the environment", () => {
    const secret = "s".repeat(32);
    const selfHosted = loadConfig({
      DATABASE_URL: "postgres://db/app",
      REDIS_URL: "redis://cache:6379",
      JWT_SECRET: secret,
    });
    assert.equal(selfHosted.mode, "self-hosted");
    assert.equal(selfHosted.rateLimitBackend, "redis");
    const deploy = loadConfig({
      DATABASE_URL: "postgres://db/app",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "tok",
      JWT_SECRET: secret,
    });
    assert.equal(deploy.mode, "deploy");
    assert.equal(deploy.rateLimitBackend, "upstash");
  });

  await t.step("one error names every bad variable", () => {
    try {
      loadConfig({
        PORT: "eighty",
        DATABASE_URL: "mysql://nope",
        CORS_ORIGINS: "*",
        PASSWORD_SCRYPT_LOG_N: "12",
      });
      assert.fail("expected ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      for (const name of ["PORT", "DATABASE_URL", "PASSWORD_SCRYPT_LOG_N"]) {
        assert.match(error.message, new RegExp(name));
      }
    }
  });

  await t.step("required secrets outside embedded mode are named", () => {
    try {
      loadConfig({ DATABASE_URL: "postgres://db/app" });
      assert.fail("expected ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /JWT_SECRET/);
      assert.match(error.message, /REDIS_URL/);
    }
  });

  await t.step("weak secrets and wildcard CORS are refused", () => {
    assert.throws(
      () =>
        loadConfig({
          DATABASE_URL: "postgres://db/a",
          REDIS_URL: "redis://r",
          JWT_SECRET: "short",
        }),
      /JWT_SECRET: must be at least 32 bytes/,
    );
    assert.throws(() => loadConfig({ CORS_ORIGINS: "*" }), /CORS_ORIGINS/);
  });

  await t.step("empty values count as unset", () => {
    assert.equal(loadConfig({ PORT: "", DATABASE_URL: "" }).mode, "embedded");
  });
});

Deno.test("WEBHOOK_RETRY_SCHEDULE: units ms, s, m, h, d; `none`; bad values named", () => {
  assert.deepEqual(parseDurations("100ms,5s,2m,1h,1d"), [
    100,
    5000,
    120_000,
    3_600_000,
    86_400_000,
  ]);
  assert.deepEqual(parseDurations("none"), []);
  const config = loadConfig({ DATA_DIR: "memory://" });
  assert.deepEqual(config.WEBHOOK_RETRY_SCHEDULE, [
    5_000,
    30_000,
    120_000,
    600_000,
    3_600_000,
    21_600_000,
  ]);
  assert.equal(config.WEBHOOK_ALLOW_HTTP, false);
  assert.equal(config.WEBHOOK_ALLOW_PRIVATE, false);
  assert.equal(config.WEBHOOK_SWEEP_INTERVAL_S, 300);
  assert.equal(config.WEBHOOK_TIMEOUT_MS, 10_000);
  assert.throws(
    () => loadConfig({ DATA_DIR: "memory://", WEBHOOK_RETRY_SCHEDULE: "5 seconds" }),
    /WEBHOOK_RETRY_SCHEDULE/,
  );
  assert.throws(
    () => loadConfig({ DATA_DIR: "memory://", WEBHOOK_RETRY_SCHEDULE: "8d" }),
    /WEBHOOK_RETRY_SCHEDULE/,
  );
});
