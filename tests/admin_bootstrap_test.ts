import assert from "node:assert/strict";
import { AdminBootstrapError, ensureAdmin } from "../src/auth/admin_bootstrap.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createServices } from "../src/services.ts";
import { startTestApp, TEST_DATABASE_URL, testEnv } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";

const scrypt = { logN: 14, r: 8, p: 1 };
const STRONG = "violet-lantern-harbor-93";

async function login(h: Awaited<ReturnType<typeof startTestApp>>, email: string, password: string) {
  return await h.json("POST", "/v1/auth/login", { email, password }, { ip: "198.51.100.77" });
}

Deno.test("ADMIN_EMAIL/ADMIN_PASSWORD: create, idempotent, promote without touching the password", async (t) => {
  const h = await startTestApp();
  try {
    await t.step("creates the admin, who can log in with ADMIN_PASSWORD", async () => {
      const result = await ensureAdmin(h.services.sql, {
        email: "root@example.com",
        password: STRONG,
        scrypt,
        actor: "test",
      });
      assert.equal(result.outcome, "created");
      const res = await login(h, "root@example.com", STRONG);
      assert.equal(res.status, 200);
      const me = await h.json("GET", "/v1/auth/me", undefined, {
        token: (await res.json()).access_token,
      });
      assert.equal((await me.json()).role, "admin");
    });

    await t.step("every later start changes nothing (one row, same password)", async () => {
      for (let i = 0; i < 2; i++) {
        const again = await ensureAdmin(h.services.sql, {
          email: "ROOT@example.com",
          password: "another-strong-passphrase-77",
          scrypt,
          actor: "test",
        });
        assert.equal(again.outcome, "unchanged");
      }
      const rows = await h.services.sql`
        select role from users where email_normalized = 'root@example.com'`;
      assert.equal(rows.length, 1);
      assert.equal((await login(h, "root@example.com", STRONG)).status, 200);
    });

    await t.step(
      "promotes an existing user, keeps their password, ends their sessions",
      async () => {
        const user = await registerUser(h);
        const result = await ensureAdmin(h.services.sql, {
          email: user.email,
          password: STRONG,
          scrypt,
          actor: "test",
        });
        assert.equal(result.outcome, "promoted");
        assert.equal(result.userId, user.id);
        assert.equal((await login(h, user.email, STRONG)).status, 401, "password not replaced");
        const res = await login(h, user.email, user.password);
        assert.equal(res.status, 200);
        const me = await h.json("GET", "/v1/auth/me", undefined, {
          token: (await res.json()).access_token,
        });
        assert.equal((await me.json()).role, "admin");
        const [live] = await h.services.sql`
        select count(*)::int as n from sessions
        where user_id = ${user.id} and revoked_at is null`;
        assert.equal(live!.n, 1, "only the session started after the promotion is live");
        const [audit] = await h.services.sql`
        select count(*)::int as n from audit_events
        where user_id = ${user.id} and action = 'user.role_change'`;
        assert.equal(audit!.n, 1);
      },
    );

    await t.step("a weak password is refused with a message naming ADMIN_PASSWORD", async () => {
      await assert.rejects(
        ensureAdmin(h.services.sql, {
          email: "weak@example.com",
          password: "password",
          scrypt,
          actor: "test",
        }),
        (error: unknown) => {
          assert.ok(error instanceof AdminBootstrapError);
          assert.match(error.message, /^ADMIN_PASSWORD: refused by the password policy/);
          assert.ok(!error.message.includes("password\n"));
          return true;
        },
      );
      const rows = await h.services.sql`
        select 1 from users where email_normalized = 'weak@example.com'`;
      assert.equal(rows.length, 0);
    });
  } finally {
    await h.close();
  }
});

Deno.test("ADMIN_EMAIL: two instances bootstrapping together against one database make one admin", async () => {
  const h = await startTestApp();
  // A second instance on the same database (same schema in Postgres mode).
  let other = h.services;
  let closeOther = async () => {};
  if (TEST_DATABASE_URL) {
    const [row] = await h.services.sql<{ schema: string }[]>`select current_schema() as schema`;
    const schema = row!.schema;
    other = await createServices(loadConfig(testEnv()), {
      log: createLogger("silent"),
      schema,
      skipMigrations: true,
    });
    closeOther = () => other.close();
  }
  try {
    const input = { email: "first-admin@example.com", password: STRONG, scrypt, actor: "test" };
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all([
        ensureAdmin(h.services.sql, input),
        ensureAdmin(other.sql, input),
      ]);
      const names = outcomes.map((o) => o.outcome).sort();
      assert.deepEqual(names, round === 0 ? ["created", "unchanged"] : ["unchanged", "unchanged"]);
    }
    const rows = await h.services.sql`
      select role from users where email_normalized = 'first-admin@example.com'`;
    assert.deepEqual(rows.map((r) => r.role), ["admin"]);
    const [audit] = await h.services.sql`
      select count(*)::int as n from audit_events where action = 'admin.bootstrap_created'`;
    assert.equal(audit!.n, 1);
  } finally {
    await closeOther();
    await h.close();
  }
});

Deno.test("ADMIN_EMAIL and ADMIN_PASSWORD come together", () => {
  for (const env of [{ ADMIN_EMAIL: "a@example.com" }, { ADMIN_PASSWORD: STRONG }]) {
    assert.throws(() => loadConfig({ DATA_DIR: "memory://", ...env }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /ADMIN_(EMAIL|PASSWORD): required when/);
      return true;
    });
  }
  assert.throws(
    () =>
      loadConfig({ DATA_DIR: "memory://", ADMIN_EMAIL: "not-an-email", ADMIN_PASSWORD: STRONG }),
    /ADMIN_EMAIL/,
  );
});

/** Runs a script of this repository the way its task does, with a given environment. */
async function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  allowWrite: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      `--allow-write=${allowWrite}`,
      script,
      ...args,
    ],
    env: { NO_COLOR: "1", PASSWORD_SCRYPT_LOG_N: "14", ...env },
    clearEnv: true,
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("start-up refuses a weak ADMIN_PASSWORD with one clear line", async () => {
  const run = await runScript("main.ts", [], {
    DATA_DIR: "memory://",
    PORT: "0",
    ADMIN_EMAIL: "root@example.com",
    ADMIN_PASSWORD: "password123",
    LOG_LEVEL: "warn",
  }, ".data");
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /ADMIN_PASSWORD: refused by the password policy/);
  assert.ok(!run.stderr.includes("at "), "no stack trace");
});

Deno.test("start-up with DATA_DIR outside ./.data names --allow-write=<dir>", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = await runScript("main.ts", [], {
      DATA_DIR: `${dir}/data`,
      PORT: "0",
      LOG_LEVEL: "warn",
    }, ".data");
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.ok(run.stderr.includes(`--allow-write=${dir}/data`), run.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task admin and deno task seed (--reset-demo), as a newcomer runs them", async (t) => {
  const dir = await Deno.makeTempDir();
  const env = { DATA_DIR: dir };
  const field = (text: string, name: string) => text.match(new RegExp(`${name}\\s+(\\S+)`))?.[1];
  try {
    let demo = { password: "", apiKey: "" };
    await t.step("seed prints the demo credentials and no log lines", async () => {
      const run = await runScript("seed.ts", [], env, dir);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!run.stdout.includes('"level"') && !run.stderr.includes('"level"'), run.stdout);
      assert.match(run.stdout, /deno task seed --reset-demo/);
      demo = { password: field(run.stdout, "password")!, apiKey: field(run.stdout, "api key")! };
      assert.ok(demo.password && demo.apiKey.startsWith("gate_"));
    });

    await t.step("a second seed says how to get new credentials", async () => {
      const run = await runScript("seed.ts", [], env, dir);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Users already exist.*deno task seed --reset-demo/);
    });

    let reset = { password: "", apiKey: "" };
    await t.step("seed --reset-demo rotates the password and key and prints them", async () => {
      const run = await runScript("seed.ts", ["--reset-demo"], env, dir);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!run.stdout.includes('"level"'), run.stdout);
      reset = { password: field(run.stdout, "password")!, apiKey: field(run.stdout, "api key")! };
      assert.notEqual(reset.password, demo.password);
      assert.notEqual(reset.apiKey, demo.apiKey);
    });

    await t.step("admin promote: unknown email is an error that says what to do", async () => {
      const run = await runScript("scripts/admin.ts", ["promote", "nobody@example.com"], env, dir);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /No user with the email nobody@example.com/);
    });

    await t.step("admin promote makes the demo user an admin", async () => {
      const run = await runScript(
        "scripts/admin.ts",
        ["promote", "demo@gatehouse.local"],
        env,
        dir,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /is now an admin/);
      const again = await runScript(
        "scripts/admin.ts",
        ["promote", "demo@gatehouse.local"],
        env,
        dir,
      );
      assert.match(again.stdout, /already is an admin/);
    });

    let created = "";
    await t.step("admin create prints a generated password once", async () => {
      const run = await runScript("scripts/admin.ts", ["create", "ops@example.com"], env, dir);
      assert.equal(run.code, 0, run.stderr);
      created = field(run.stdout, "password")!;
      assert.ok(created.length >= 20);
      const weak = await runScript("scripts/admin.ts", ["create", "ops2@example.com"], {
        ...env,
        ADMIN_PASSWORD: "qwerty123",
      }, dir);
      assert.equal(weak.code, 1);
      assert.match(weak.stderr, /ADMIN_PASSWORD: refused by the password policy/);
    });

    await t.step("what they printed works against the service", async () => {
      const config = loadConfig({
        DATA_DIR: dir,
        LOG_LEVEL: "silent",
        PASSWORD_SCRYPT_LOG_N: "14",
      });
      const services = await createServices(config, { log: createLogger("silent") });
      const { createApp } = await import("../src/app.ts");
      const app = createApp(services);
      const post = (path: string, body: unknown) =>
        app.request(path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        }, { remoteAddr: { hostname: "127.0.0.1" } });
      try {
        const old = await app.request("/v1/auth/whoami", { headers: { "x-api-key": demo.apiKey } });
        assert.equal(old.status, 401, "the rotated key no longer works");
        await old.body?.cancel();
        const fresh = await app.request("/v1/auth/whoami", {
          headers: { "x-api-key": reset.apiKey },
        });
        assert.equal(fresh.status, 200);
        await fresh.body?.cancel();
        const oldLogin = await post("/v1/auth/login", {
          email: "demo@gatehouse.local",
          password: demo.password,
        });
        assert.equal(oldLogin.status, 401);
        await oldLogin.body?.cancel();
        const demoLogin = await post("/v1/auth/login", {
          email: "demo@gatehouse.local",
          password: reset.password,
        });
        assert.equal(demoLogin.status, 200);
        assert.equal((await demoLogin.json()).user.role, "admin");
        const opsLogin = await post("/v1/auth/login", {
          email: "ops@example.com",
          password: created,
        });
        assert.equal(opsLogin.status, 200);
        assert.equal((await opsLogin.json()).user.role, "admin");
      } finally {
        await services.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
