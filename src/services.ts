import type { Config } from "./config.ts";
import { connectDatabase, type Database, type Sql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { createTokenService, type TokenService } from "./auth/jwt.ts";
import { resolveJwtSettings } from "./auth/jwt_settings.ts";
import { SessionService } from "./auth/session_service.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createLogger, type Logger } from "./log.ts";

/** The typed bag of long-lived services, built once per process. */
export interface Services {
  config: Config;
  log: Logger;
  sql: Sql;
  db: Database;
  lifecycle: Lifecycle;
  tokens: TokenService;
  authenticator: Authenticator;
  sessions: SessionService;
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
    const tokens = await createTokenService(await resolveJwtSettings(config));
    const authenticator = new Authenticator(db.sql, tokens, config, log);
    closers.push(() => authenticator.close());
    const sessions = new SessionService(db.sql, tokens, config, authenticator);
    return {
      config,
      log,
      sql: db.sql,
      db,
      lifecycle: new Lifecycle(),
      tokens,
      authenticator,
      sessions,
      startedAt: Date.now(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
