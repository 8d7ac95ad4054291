import type { Db } from "./tx.ts";

export interface TableCount {
  name: string;
  rows: number;
}

export interface AppliedMigration {
  version: string;
  applied_at: Date;
}

export interface DatabaseStatus {
  version: string;
  tables: TableCount[];
  migrations: AppliedMigration[];
}

/**
 * Exact row counts of every table in the service's schema (the schema on the
 * search path, so a test schema reports itself), applied migrations and the
 * server's version string.
 */
export async function databaseStatus(sql: Db): Promise<DatabaseStatus> {
  const [server] = await sql<{ version: string }[]>`select version() as version`;
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'
    order by table_name`;
  const counts: TableCount[] = [];
  for (const { name } of tables) {
    const [count] = await sql<{ rows: string }[]>`select count(*) as rows from ${sql(name)}`;
    counts.push({ name, rows: Number(count?.rows ?? 0) });
  }
  const migrations = await sql<AppliedMigration[]>`
    select version, applied_at from schema_migrations order by version`;
  return { version: server?.version ?? "unknown", tables: counts, migrations: [...migrations] };
}
