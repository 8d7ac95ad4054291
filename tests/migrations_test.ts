import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { migrate, MigrationError, readMigrations } from "../src/db/migrate.ts";
import { createServices, type Services } from "../src/services.ts";
import { captureLogger, testEnv } from "./support/harness.ts";

/** Services without migrations, in a fresh schema (real Postgres) or fresh PGlite. */
async function bareServices(): Promise<{ services: Services; cleanup(): Promise<void> }> {
  const config = loadConfig(testEnv());
  const { logger } = captureLogger();
  if (!config.DATABASE_URL) {
    const services = await createServices(config, { log: logger, skipMigrations: true });
    return { services, cleanup: () => services.close() };
  }
  const schema = `gh_test_mig_${crypto.randomUUID().slice(0, 8)}`;
  const setup = await createServices(config, { log: logger, skipMigrations: true });
  await setup.sql.unsafe(`create schema ${schema}`);
  await setup.close();
  const services = await createServices(config, { log: logger, schema, skipMigrations: true });
  return {
    services,
    cleanup: async () => {
      await services.sql.unsafe(`drop schema if exists ${schema} cascade`);
      await services.close();
    },
  };
}

Deno.test("migrations", async (t) => {
  const { services, cleanup } = await bareServices();
  const { sql, log } = services;
  try {
    const files = await readMigrations();
    assert.ok(files.length >= 1);
    assert.equal(files[0]!.version, "0001_init");

    await t.step("applied in order and recorded with checksums", async () => {
      const result = await migrate(sql, log, files);
      assert.deepEqual(result.applied, files.map((f) => f.version));
      const rows = await sql<{ version: string; checksum: string }[]>`
        select version, checksum from schema_migrations order by version`;
      assert.deepEqual(rows.map((r) => r.checksum), files.map((f) => f.checksum));
    });

    await t.step("a second run applies nothing", async () => {
      assert.deepEqual((await migrate(sql, log, files)).applied, []);
    });

    await t.step("a changed checksum of an applied file stops start-up", async () => {
      const edited = files.map((f, i) => i === 0 ? { ...f, checksum: "0".repeat(64) } : f);
      await assert.rejects(() => migrate(sql, log, edited), (error) => {
        assert.ok(error instanceof MigrationError);
        assert.match(error.message, /0001_init was changed after it was applied/);
        return true;
      });
    });

    await t.step("a failing migration leaves nothing half-applied", async () => {
      const broken = {
        version: "9998_broken",
        checksum: "b".repeat(64),
        sql: "create table half_done (id int); insert into no_such_table values (1);",
      };
      await assert.rejects(() => migrate(sql, log, [...files, broken]), MigrationError);
      const [row] = await sql<{ exists: boolean }[]>`
        select to_regclass('half_done') is not null as exists`;
      assert.equal(row!.exists, false);
      const recorded = await sql`select 1 from schema_migrations where version = '9998_broken'`;
      assert.equal(recorded.length, 0);
    });

    await t.step("concurrent runs do not race (advisory lock)", async () => {
      const extra = {
        version: "9999_concurrent",
        checksum: "c".repeat(64),
        sql: "create table concurrent_probe (id int primary key);",
      };
      const results = await Promise.all([
        migrate(sql, log, [...files, extra]),
        migrate(sql, log, [...files, extra]),
        migrate(sql, log, [...files, extra]),
      ]);
      const appliedCount = results.filter((r) => r.applied.includes("9999_concurrent")).length;
      assert.equal(appliedCount, 1);
    });
  } finally {
    await cleanup();
  }
});
