import postgres from "postgres";
import type { DatabaseConfig } from "../config.ts";
import type { Logger } from "../log.ts";

export type Sql = postgres.Sql<Record<string, never>>;

export interface Database {
  sql: Sql;
  /** Human label for logs: never contains credentials. */
  description: string;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Extra search_path schema: each test run migrates into its own schema. */
  schema?: string;
  poolMax?: number;
  /**
   * postgres.js's `debug` hook: called with each statement as it is sent (its text
   * with $n placeholders, its parameters, their type oids). The benchmark records
   * a query's statements with it; the service never sets it.
   */
  debug?: (connection: number, query: string, parameters: unknown[], types: number[]) => void;
}

/** postgres.js settings shared by every mode. */
function baseOptions(
  log: Logger,
  { schema, debug }: ConnectOptions,
): postgres.Options<Record<string, never>> {
  return {
    // Notices (e.g. "relation already exists, skipping") are noise at info level.
    onnotice: (notice) => log.debug("postgres notice", { message: notice.message }),
    connect_timeout: 10,
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    prepare: true,
    connection: {
      application_name: "gatehouse",
      ...(schema ? { search_path: schema } : {}),
    },
    transform: { undefined: null },
    ...(debug ? { debug } : {}),
  };
}

/** Connects to DATABASE_URL, or starts embedded PGlite when it is absent. */
export async function connectDatabase(
  config: DatabaseConfig,
  log: Logger,
  options: ConnectOptions = {},
): Promise<Database> {
  if (config.DATABASE_URL) {
    const sql = postgres(config.DATABASE_URL, {
      ...baseOptions(log, options),
      max: options.poolMax ?? config.DATABASE_POOL_MAX,
    }) as unknown as Sql;
    const host = new URL(config.DATABASE_URL);
    return {
      sql,
      description: `postgres://${host.hostname}:${host.port || 5432}${host.pathname}`,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  // Only embedded mode pays for loading PGlite (and only it needs disk access).
  const { startEmbeddedPostgres } = await import("./embedded.ts");
  const embedded = await startEmbeddedPostgres(config.DATA_DIR);
  const sql = postgres({
    ...baseOptions(log, options),
    host: embedded.host,
    port: embedded.port,
    user: "postgres",
    database: "postgres",
    // PGlite is a single session: concurrent connections would interleave each
    // other's transactions, so the pool holds exactly one connection.
    max: 1,
  }) as unknown as Sql;
  return {
    sql,
    description: embedded.description,
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}
