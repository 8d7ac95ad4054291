/** `deno task migrate`: apply pending migrations and exit (start does this too). */
import { ConfigError, loadConfig, readEnv } from "../src/config.ts";
import { connectDatabase } from "../src/db/client.ts";
import { migrate, MigrationError } from "../src/db/migrate.ts";
import { createLogger } from "../src/log.ts";

try {
  const config = loadConfig(readEnv());
  const log = createLogger(config.LOG_LEVEL);
  const db = await connectDatabase(config, log);
  try {
    const { applied } = await migrate(db.sql, log);
    log.info("migrations done", { applied: applied.length, database: db.description });
  } finally {
    await db.close();
  }
} catch (error) {
  if (error instanceof ConfigError || error instanceof MigrationError) console.error(error.message);
  else console.error(`migrate failed: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
