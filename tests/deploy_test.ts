/**
 * Deno Deploy readiness: the real service, started as Deno Deploy runs it —
 * `deno run --allow-net --allow-env --allow-read main.ts`, no write, sys or run
 * permission — against real Postgres (a fresh database) and the Upstash REST
 * protocol (a local server backed by the real Redis), serves a whole journey.
 *
 * The process runs in an empty temporary working directory, which must still
 * be empty afterwards; any write would fail anyway (no --allow-write, no
 * prompt without a terminal). Deno's permission audit log
 * (DENO_AUDIT_PERMISSIONS) additionally shows that nothing even asked for
 * sys, run or ffi access, or for a write to a path it did not just read.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { TEST_DATABASE_URL, TEST_REDIS_URL } from "./support/harness.ts";
import { deleteKeys } from "./support/redis_keys.ts";
import { startUpstashRestServer } from "./support/upstash_rest_server.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const DEPLOY_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read"];
const START_TIMEOUT_MS = 60_000;

interface LogLine {
  msg?: string;
  level?: string;
  [key: string]: unknown;
}

/** Collects a child's stdout as JSON log lines (and the rest as text). */
function collectLines(stream: ReadableStream<Uint8Array>) {
  const lines: LogLine[] = [];
  const other: string[] = [];
  let onLine: (() => void) | undefined;
  const done = (async () => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          lines.push(JSON.parse(line));
        } catch {
          other.push(line);
        }
        onLine?.();
      }
    }
    onLine?.();
  })();
  const waitFor = (predicate: (line: LogLine) => boolean, timeoutMs: number) =>
    new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        onLine = undefined;
        reject(
          new Error(`timed out; output so far:\n${JSON.stringify(lines)}\n${other.join("\n")}`),
        );
      }, timeoutMs);
      onLine = () => {
        const found = lines.find(predicate);
        if (found) {
          clearTimeout(timer);
          onLine = undefined;
          resolve(found);
        }
      };
      onLine();
      done.then(() => {
        if (!lines.find(predicate)) {
          clearTimeout(timer);
          reject(new Error(`process output ended:\n${JSON.stringify(lines)}\n${other.join("\n")}`));
        }
      });
    });
  return { lines, other, done, waitFor };
}

/** A database of its own, dropped afterwards (DATABASE_URL has no schema option). */
async function createDatabase(url: string) {
  const name = `gh_deploy_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    drop: async () => {
      const cleanup = postgres(url, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** Environment for the child: nothing inherited but what Deno needs to find its cache. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  return { ...env, ...extra };
}

if (TEST_DATABASE_URL && TEST_REDIS_URL) {
  const databaseUrl = TEST_DATABASE_URL;
  const redisUrl = TEST_REDIS_URL;

  Deno.test("Deno Deploy: main.ts serves with --allow-net --allow-env --allow-read only", async (t) => {
    const database = await createDatabase(databaseUrl);
    const upstash = await startUpstashRestServer(redisUrl, `tok_${crypto.randomUUID()}`);
    const workDir = await Deno.makeTempDir({ prefix: "gh_deploy_cwd_" });
    const auditFile = `${await Deno.makeTempDir({ prefix: "gh_deploy_audit_" })}/audit.jsonl`;
    const prefix = `gh_test_${crypto.randomUUID().slice(0, 8)}:rl`;
    const metricsToken = `metrics_${crypto.randomUUID()}`;

    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...DEPLOY_PERMISSIONS, MAIN],
      cwd: workDir,
      clearEnv: true,
      env: childEnv({
        DATABASE_URL: database.url,
        DATABASE_POOL_MAX: "3",
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: upstash.token,
        JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
        RATE_LIMIT_PREFIX: prefix,
        PASSWORD_SCRYPT_LOG_N: "14",
        METRICS_TOKEN: metricsToken,
        HOSTNAME: "127.0.0.1",
        PORT: "0",
        DENO_AUDIT_PERMISSIONS: auditFile,
      }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = collectLines(child.stdout);
    const stderrText = new Response(child.stderr).text();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });

    try {
      const listening = await stdout.waitFor((l) => l.msg === "listening", START_TIMEOUT_MS);
      assert.equal(listening.mode, "deploy");
      const base = String(listening.url);
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(base).port, "0");

      const call = async (method: string, path: string, init: {
        body?: unknown;
        headers?: Record<string, string>;
      } = {}) => {
        const headers = new Headers(init.headers);
        if (init.body !== undefined) headers.set("content-type", "application/json");
        const res = await fetch(`${base}${path}`, {
          method,
          headers,
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        });
        const text = await res.text();
        return { res, body: text ? JSON.parse(text) : undefined, text };
      };

      await t.step("GET /health: database up, rate limiter on Upstash", async () => {
        const { res, body } = await call("GET", "/health");
        assert.equal(res.status, 200);
        assert.equal(body.components.database.status, "up");
        assert.equal(body.components.rate_limiter.status, "up");
        assert.equal(body.components.rate_limiter.detail, "upstash");
      });

      const email = `deploy-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const password = `calm-meadow-${crypto.randomUUID().slice(0, 12)}`;
      let accessToken = "";

      await t.step("register and log in", async () => {
        const registered = await call("POST", "/v1/auth/register", { body: { email, password } });
        assert.equal(registered.res.status, 201, registered.text);
        const login = await call("POST", "/v1/auth/login", { body: { email, password } });
        assert.equal(login.res.status, 200, login.text);
        accessToken = login.body.access_token;
        assert.equal(typeof accessToken, "string");
      });

      await t.step("mint an API key and call whoami with it, limited over Upstash", async () => {
        const created = await call("POST", "/v1/api-keys", {
          body: { name: "deploy check" },
          headers: { authorization: `Bearer ${accessToken}` },
        });
        assert.equal(created.res.status, 201, created.text);
        const whoami = await call("GET", "/v1/auth/whoami", {
          headers: { "x-api-key": created.body.key },
        });
        assert.equal(whoami.res.status, 200, whoami.text);
        assert.equal(whoami.body.principal.type, "api_key");
        assert.equal(whoami.body.principal.api_key_id, created.body.id);
        assert.equal(whoami.res.headers.get("x-ratelimit-limit"), "60");
        // The JWT's create and the key's call share the user's budget.
        assert.equal(whoami.res.headers.get("x-ratelimit-remaining"), "58");

        const query = await call("POST", "/v1/query", {
          body: { prompt: "Hello from Deploy", mode: "speed" },
          headers: { authorization: `Bearer ${created.body.key}` },
        });
        assert.equal(query.res.status, 200, query.text);
        assert.equal(query.body.answers.length, 1);
      });

      await t.step("the counters live in Redis behind the Upstash protocol", async () => {
        assert.ok(await deleteKeys(redisUrl, `${prefix}:*`) > 0);
      });

      await t.step("GET /metrics with the metrics token", async () => {
        const denied = await call("GET", "/metrics");
        assert.equal(denied.res.status, 401);
        const res = await fetch(`${base}/metrics`, {
          headers: { authorization: `Bearer ${metricsToken}` },
        });
        assert.equal(res.status, 200);
        const text = await res.text();
        assert.match(text, /^gatehouse_dependency_up\{dependency="rate_limiter"\} 1$/m);
        assert.match(text, /^process_resident_memory_bytes \d+$/m);
      });

      await t.step("SIGTERM stops it cleanly", async () => {
        child.kill("SIGTERM");
        const { code } = await status;
        assert.equal(code, 0);
      });

      await t.step("nothing was written and no wider permission was asked for", async () => {
        await stdout.done;
        const stderr = await stderrText;
        assert.doesNotMatch(stderr, /NotCapable|Requires \w+ access|PermissionDenied/);
        const errors = stdout.lines.filter((l) => l.level === "error");
        assert.deepEqual(errors, []);
        const leftovers: string[] = [];
        for await (const entry of Deno.readDir(workDir)) leftovers.push(entry.name);
        assert.deepEqual(leftovers, [], "the working directory stays empty (no ./.data)");

        const audit = (await Deno.readTextFile(auditFile)).trim().split("\n")
          .map((line) => JSON.parse(line) as { permission: string; value: string | null });
        assert.ok(audit.length > 0, "Deno wrote its permission audit log");
        const kinds = new Set(audit.map((a) => a.permission));
        for (const kind of ["sys", "run", "ffi", "import"]) {
          assert.equal(kinds.has(kind), false, `no ${kind} permission was asked for`);
        }
        // Deno audits a write check beside some reads of the same path; a real write
        // would name a path that was never read.
        const read = new Set(audit.filter((a) => a.permission === "read").map((a) => a.value));
        const writes = audit.filter((a) => a.permission === "write" && !read.has(a.value));
        assert.deepEqual(writes, []);
      });
    } finally {
      if (!exited) child.kill("SIGKILL");
      await status;
      await stdout.done.catch(() => {});
      await stderrText.catch(() => "");
      await upstash.close();
      await database.drop();
      await deleteKeys(redisUrl, `${prefix}:*`);
      await Deno.remove(workDir, { recursive: true });
      await Deno.remove(auditFile.replace(/\/audit\.jsonl$/, ""), { recursive: true });
    }
  });
}
