import type { Config } from "./config.ts";
import { connectDatabase, type Database, type Sql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createLogger, type Logger } from "./log.ts";

/** The typed bag of long-lived services, built once per process. */
export interface Services {
  config: Config;
  log: Logger;
  sql: Sql;
  db: Database;
  lifecycle: Lifecycle;
  startedAt: number;
  close(): Promise<void>;
}

export interface BuildOptions {
  log?: Logger;
  /** Postgres schema to live in (tests isolate each run in its own). */
  schema?: string;
  /** Skip applying migrations (the `migrate` task applies them itself). */
  skipMigrations?: boolean;
}

export async function createServices(
  config: Config,
  options: BuildOptions = {},
): Promise<Services> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const db = await connectDatabase(config, log, { schema: options.schema });
  const closers: (() => Promise<void>)[] = [() => db.close()];
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        log.warn("error while closing", { error });
      }
    }
  };
  try {
    if (!options.skipMigrations) await migrate(db.sql, log);
    return {
      config,
      log,
      sql: db.sql,
      db,
      lifecycle: new Lifecycle(),
      startedAt: Date.now(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
