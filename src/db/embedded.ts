import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { ensureDataDir } from "../data_dir.ts";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface EmbeddedPostgres {
  host: string;
  port: number;
  description: string;
  close(): Promise<void>;
}

/**
 * Postgres's buffer pool inside PGlite's WebAssembly memory. The default
 * (128MB) is written through at start, so it is resident from the first
 * second; the data files themselves are already in memory (memory://) or in
 * the OS page cache (a data directory), so a small pool costs little.
 */
export const EMBEDDED_SHARED_BUFFERS = "16MB";

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
  const db = await PGlite.create({
    dataDir: inMemory ? undefined : path,
    startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`],
  });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
  await server.start();
  collectGarbage();
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

/**
 * A new database is made by initdb in a second, throwaway PGlite instance (its
 * own WebAssembly memory, 150+ MB). It is garbage once PGlite.create returns,
 * but V8 only notices after about a minute of idling, so a just-started
 * instance held 800+ MB. One full collection here returns it at once.
 */
function collectGarbage(): void {
  // Makes `gc` available to contexts created from now on (the main one is unaffected).
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  gc?.();
}
