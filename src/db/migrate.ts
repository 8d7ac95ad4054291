import type { Sql } from "./client.ts";
import type { Logger } from "../log.ts";

export interface MigrationFile {
  version: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

/** Arbitrary but fixed: every Gatehouse instance takes the same advisory lock. */
const MIGRATION_LOCK_KEY = 0x6761_7465;

const defaultDir = new URL("../../migrations/", import.meta.url);

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads `NNNN_name.sql` files in lexical order. */
export async function readMigrations(dir: URL = defaultDir): Promise<MigrationFile[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /^\d{4}_[a-z0-9_]+\.sql$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => {
    const text = await Deno.readTextFile(new URL(name, dir));
    return { version: name.replace(/\.sql$/, ""), sql: text, checksum: await sha256Hex(text) };
  }));
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory
 * lock so concurrent starts do not race. A changed checksum of an applied file
 * stops start-up: landed migrations are never edited.
 */
export async function migrate(
  sql: Sql,
  log: Logger,
  files?: MigrationFile[],
): Promise<{ applied: string[] }> {
  const migrations = files ?? await readMigrations();
  const conn = await sql.reserve();
  const applied: string[] = [];
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await conn`
        create table if not exists schema_migrations (
          version text primary key,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`;
      const rows = await conn<{ version: string; checksum: string }[]>`
        select version, checksum from schema_migrations`;
      const known = new Map(rows.map((r) => [r.version, r.checksum]));
      for (const file of migrations) {
        const checksum = known.get(file.version);
        if (checksum !== undefined) {
          if (checksum !== file.checksum) {
            throw new MigrationError(
              `migration ${file.version} was changed after it was applied ` +
                `(recorded checksum ${checksum.slice(0, 12)}…, file ${
                  file.checksum.slice(0, 12)
                }…); add a new migration instead of editing an applied one`,
            );
          }
          continue;
        }
        await conn`begin`;
        try {
          await conn.unsafe(file.sql);
          await conn`
            insert into schema_migrations (version, checksum) values (${file.version}, ${file.checksum})`;
          await conn`commit`;
        } catch (error) {
          await conn`rollback`;
          throw new MigrationError(
            `migration ${file.version} failed: ${error instanceof Error ? error.message : error}`,
          );
        }
        applied.push(file.version);
        log.info("migration applied", { version: file.version });
      }
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    conn.release();
  }
  return { applied };
}
