import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { ensureDataDir } from "../data_dir.ts";

export interface EmbeddedPostgres {
  host: string;
  port: number;
  description: string;
  close(): Promise<void>;
}

/**
 * Runs PGlite in-process and serves it on a loopback port so the same
 * postgres.js code runs on it. `dataDir` "memory://" keeps nothing on disk.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const inMemory = dataDir.startsWith("memory://");
  let path = dataDir;
  if (!inMemory) {
    await ensureDataDir(dataDir);
    path = `${dataDir.replace(/\/+$/, "")}/pglite`;
  }
  const db = await PGlite.create(inMemory ? undefined : path);
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
  await server.start();
  const [host, port] = server.getServerConn().split(":");
  return {
    host: host ?? "127.0.0.1",
    port: Number(port),
    description: inMemory ? "pglite (in memory)" : `pglite (${path})`,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
