/**
 * Embedded mode's memory (issue 20, item 4): a small Postgres buffer pool, and
 * the throwaway initdb instance collected at start, so an idle embedded service
 * holds at most 300 MB instead of 800+.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { EMBEDDED_SHARED_BUFFERS, startEmbeddedPostgres } from "../src/db/embedded.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const IDLE_RSS_LIMIT_MB = 300;

Deno.test("embedded Postgres runs with a 16MB buffer pool and still serves queries", async () => {
  const embedded = await startEmbeddedPostgres("memory://");
  const sql = postgres({
    host: embedded.host,
    port: embedded.port,
    user: "postgres",
    database: "postgres",
    max: 1,
    onnotice: () => {},
  });
  try {
    const [row] = await sql<{ shared_buffers: string }[]>`show shared_buffers`;
    assert.equal(row!.shared_buffers, EMBEDDED_SHARED_BUFFERS);
    assert.equal(EMBEDDED_SHARED_BUFFERS, "16MB");
    await sql`create table t (n int)`;
    await sql`insert into t select generate_series(1, 1000)`;
    const [sum] = await sql<{ s: string }[]>`select sum(n)::text as s from t`;
    assert.equal(sum!.s, "500500");
  } finally {
    await sql.end({ timeout: 5 });
    await embedded.close();
  }
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test(`an idle embedded service holds at most ${IDLE_RSS_LIMIT_MB} MB RSS right after start`, async () => {
  const port = freePort();
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    PORT: String(port),
    HOSTNAME: "127.0.0.1",
    DATA_DIR: "memory://",
    SEED_DEMO: "false",
    LOG_LEVEL: "warn",
  };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  // The `start` task's permissions.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write=.data",
      "--allow-sys",
      MAIN,
    ],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const errors: string[] = [];
  const drained = (async () => {
    for (let r = await stderr.read(); !r.done; r = await stderr.read()) errors.push(r.value);
  })();
  try {
    let ready = false;
    const deadline = Date.now() + 120_000;
    while (!ready && Date.now() < deadline) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
        await response.body?.cancel();
        ready = response.ok;
      } catch {
        // not listening yet
      }
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(ready, `the embedded service did not become ready:\n${errors.join("")}`);
    // Deno lets only --allow-all read /proc directly.
    const cat = await new Deno.Command("cat", { args: [`/proc/${child.pid}/status`] }).output();
    const status = new TextDecoder().decode(cat.stdout);
    const rssMb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
    assert.ok(Number.isFinite(rssMb) && rssMb > 0, `no VmRSS in:\n${status}`);
    assert.ok(
      rssMb <= IDLE_RSS_LIMIT_MB,
      `idle embedded RSS ${rssMb.toFixed(0)} MB > ${IDLE_RSS_LIMIT_MB} MB`,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await drained;
  }
});
