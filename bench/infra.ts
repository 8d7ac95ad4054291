/**
 * Throwaway infrastructure for one benchmark run: a dedicated Postgres database
 * and a unique Redis key prefix, both removed again at the end.
 */
import postgres from "postgres";
import { createClient } from "redis";

export interface BenchDatabase {
  /** DATABASE_URL for the service: the admin URL with the new database's name. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates `gatehouse_bench_<suffix>` next to the admin URL's database. */
export async function createBenchDatabase(
  adminUrl: string,
  suffix: string,
): Promise<BenchDatabase> {
  const name = `gatehouse_bench_${suffix}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        // WITH (FORCE) (Postgres 13+) ends connections the service may have left behind.
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** Deletes every key under `prefix:`; returns how many went. */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = createClient({ url: redisUrl });
  client.on("error", () => {}); // surfaced by the awaited commands instead
  await client.connect();
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const reply = await client.sendCommand([
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}:*`,
        "COUNT",
        "1000",
      ]) as [string, string[]];
      cursor = String(reply[0]);
      const keys = reply[1];
      if (keys.length > 0) deleted += Number(await client.sendCommand(["UNLINK", ...keys]));
    } while (cursor !== "0");
  } finally {
    await client.quit();
  }
  return deleted;
}
