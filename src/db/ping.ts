import type { Sql } from "./client.ts";

export interface Probe {
  status: "up" | "down";
  latency_ms: number;
  error?: string;
}

/** `select 1` raced against a timeout: a hung database counts as down. */
export async function pingDatabase(sql: Sql, timeoutMs: number): Promise<Probe> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      sql`select 1`.execute(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
      }),
    ]);
    return { status: "up", latency_ms: elapsed(started) };
  } catch (error) {
    return {
      status: "down",
      latency_ms: elapsed(started),
      error: error instanceof Error && error.message === "timed out" ? "timeout" : "unreachable",
    };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
