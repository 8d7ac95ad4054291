import assert from "node:assert/strict";
import { hashPassword } from "../src/auth/passwords.ts";
import { insertUser } from "../src/db/users.ts";
import { startTestApp, TEST_REDIS_URL, type TestApp } from "./support/harness.ts";
import { awayFromWindowBoundary, limiterBackends } from "./support/limiter.ts";
import { createKey, registerUser } from "./support/users.ts";

const tiers = (perMinute: number, perDay: number) =>
  JSON.stringify({ free: { per_minute: perMinute, per_day: perDay } });

async function whoami(h: TestApp, token: string, ip?: string) {
  return await authedGet(h, "/v1/auth/whoami", token, ip);
}

/** An authenticated GET whose body is not needed. */
async function authedGet(h: TestApp, path: string, token: string, ip?: string) {
  const res = await h.json("GET", path, undefined, { token, ip });
  await res.body?.cancel();
  return res;
}

for (const backend of await limiterBackends()) {
  Deno.test(`rate limits over HTTP (${backend.name})`, async (t) => {
    try {
      await t.step(
        "headers on every limited response; remaining decreases; reset ahead",
        async () => {
          const h = await startTestApp({ ...backend.env, RATE_LIMIT_TIERS: tiers(50, 1000) });
          try {
            await awayFromWindowBoundary(60, 3000);
            const user = await registerUser(h);
            const first = await whoami(h, user.accessToken);
            const second = await whoami(h, user.accessToken);
            assert.equal(first.headers.get("x-ratelimit-limit"), "50");
            const r1 = Number(first.headers.get("x-ratelimit-remaining"));
            const r2 = Number(second.headers.get("x-ratelimit-remaining"));
            assert.equal(r2, r1 - 1);
            const reset = Number(first.headers.get("x-ratelimit-reset"));
            assert.ok(reset > Date.now() / 1000, "reset is in the future");
            assert.equal(
              first.headers.get("ratelimit-policy"),
              '"minute";q=50;w=60, "day";q=1000;w=86400',
            );
            assert.match(first.headers.get("ratelimit") ?? "", /^"minute";r=\d+;t=\d+$/);
            const publicAuth = await h.json("POST", "/v1/auth/login", {
              email: user.email,
              password: user.password,
            });
            await publicAuth.body?.cancel();
            assert.ok(
              publicAuth.headers.get("x-ratelimit-limit"),
              "public auth endpoints carry the headers",
            );
            // Refused and failed answers after admission count and carry them too:
            // 403 from the role gate, 404 thrown by the handler, 422 from validation.
            let remaining = r2;
            for (
              const [path, status] of [
                ["/v1/users", 403],
                [`/v1/users/${crypto.randomUUID()}`, 404],
                ["/v1/users/not-a-uuid", 422],
              ] as const
            ) {
              const res = await authedGet(h, path, user.accessToken);
              assert.equal(res.status, status, path);
              assert.equal(res.headers.get("x-ratelimit-limit"), "50", path);
              assert.equal(Number(res.headers.get("x-ratelimit-remaining")), --remaining, path);
            }
          } finally {
            await h.close();
          }
        },
      );

      await t.step("exactly L of N concurrent requests pass", async () => {
        const h = await startTestApp({ ...backend.env, RATE_LIMIT_TIERS: tiers(5, 1000) });
        try {
          await awayFromWindowBoundary(60, 3000);
          const user = await registerUser(h);
          const results = await Promise.all(
            Array.from({ length: 12 }, () => whoami(h, user.accessToken)),
          );
          assert.equal(results.filter((r) => r.status === 200).length, 5);
          const denied = results.filter((r) => r.status === 429);
          assert.equal(denied.length, 7);
          assert.ok(Number(denied[0]!.headers.get("retry-after")) >= 1);
          assert.equal(denied[0]!.headers.get("x-ratelimit-remaining"), "0");
        } finally {
          await h.close();
        }
      });

      await t.step("429 body names the policy and scope", async () => {
        const h = await startTestApp({ ...backend.env, RATE_LIMIT_TIERS: tiers(2, 1000) });
        try {
          await awayFromWindowBoundary(60, 3000);
          const user = await registerUser(h);
          await whoami(h, user.accessToken);
          await whoami(h, user.accessToken);
          const res = await h.json("GET", "/v1/auth/whoami", undefined, {
            token: user.accessToken,
          });
          assert.equal(res.status, 429);
          const body = await res.json();
          assert.equal(body.error, "rate_limited");
          assert.equal(body.detail.policy, "minute");
          assert.equal(body.detail.scope, "user");
          assert.equal(body.detail.limit, 2);
          assert.equal(body.detail.remaining, 0);
          assert.ok(body.detail.reset > Date.now() / 1000);
        } finally {
          await h.close();
        }
      });

      await t.step("the per-day window is enforced on its own", async () => {
        const h = await startTestApp({ ...backend.env, RATE_LIMIT_TIERS: tiers(100, 3) });
        try {
          const user = await registerUser(h);
          const statuses = [];
          for (let i = 0; i < 4; i++) statuses.push((await whoami(h, user.accessToken)).status);
          assert.deepEqual(statuses, [200, 200, 200, 429]);
          const res = await h.json("GET", "/v1/auth/whoami", undefined, {
            token: user.accessToken,
          });
          const body = await res.json();
          assert.equal(body.detail.policy, "day");
          assert.ok(Number(res.headers.get("retry-after")) > 60);
        } finally {
          await h.close();
        }
      });

      await t.step("tiers and per-key overrides", async () => {
        const h = await startTestApp({
          ...backend.env,
          RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 3 }, pro: { per_minute: 6 } }),
        });
        try {
          await awayFromWindowBoundary(60, 3000);
          const admin = await registerUser(h, { role: "admin" });
          const proKey = await createKey(h, admin, { name: "pro", tier: "pro" });
          const override = await createKey(h, admin, { name: "tight", rate_limit_per_minute: 1 });
          const pro = [];
          for (let i = 0; i < 7; i++) pro.push((await whoami(h, proKey.key)).status);
          assert.deepEqual(pro, [200, 200, 200, 200, 200, 200, 429]);
          const tight = [
            (await whoami(h, override.key)).status,
            (await whoami(h, override.key)).status,
          ];
          assert.deepEqual(tight, [200, 429]);
          const res = await h.json("GET", "/v1/auth/whoami", undefined, { token: override.key });
          assert.equal((await res.json()).detail.scope, "api_key");
        } finally {
          await h.close();
        }
      });

      await t.step(
        "brute force on one account: attacker gets 429, owner and others still log in",
        async () => {
          const h = await startTestApp({
            ...backend.env,
            LOGIN_FAILURES_PER_ACCOUNT: "3",
            RATE_LIMIT_IP_PER_MINUTE: "100",
          });
          try {
            const ownerIp = "192.0.2.10";
            const attackerIp = "203.0.113.66";
            const victim = await registerUser(h, { ip: ownerIp });
            const bystander = await registerUser(h, { ip: "192.0.2.20" });
            const statuses = [];
            for (let i = 0; i < 5; i++) {
              const res = await h.json("POST", "/v1/auth/login", {
                email: victim.email,
                password: `guess-${i}-wrong`,
              }, {
                ip: attackerIp,
              });
              statuses.push(res.status);
              if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) >= 1);
              await res.body?.cancel();
            }
            assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
            const correctFromAttacker = await h.json("POST", "/v1/auth/login", {
              email: victim.email,
              password: victim.password,
            }, { ip: attackerIp });
            assert.equal(
              correctFromAttacker.status,
              429,
              "even the right password is refused once locked",
            );
            await correctFromAttacker.body?.cancel();
            const owner = await h.json("POST", "/v1/auth/login", {
              email: victim.email,
              password: victim.password,
            }, {
              ip: ownerIp,
            });
            assert.equal(owner.status, 200, "the owner's own network is not locked out");
            await owner.body?.cancel();
            const other = await h.json("POST", "/v1/auth/login", {
              email: bystander.email,
              password: bystander.password,
            }, { ip: attackerIp });
            assert.equal(other.status, 200, "another account is unaffected");
            await other.body?.cancel();
            const strangerIp = await h.json("POST", "/v1/auth/login", {
              email: victim.email,
              password: victim.password,
            }, { ip: "198.51.100.200" });
            assert.equal(
              strangerIp.status,
              429,
              "the account-wide budget applies to unknown networks",
            );
            await strangerIp.body?.cancel();
          } finally {
            await h.close();
          }
        },
      );

      await t.step("per-IP limit on register, login and refresh together", async () => {
        const h = await startTestApp({ ...backend.env, RATE_LIMIT_IP_PER_MINUTE: "2" });
        try {
          await awayFromWindowBoundary(60, 3000);
          const ip = "203.0.113.99";
          const user = await registerUser(h, { ip });
          const login = await h.json("POST", "/v1/auth/login", {
            email: user.email,
            password: user.password,
          }, { ip });
          assert.equal(login.status, 200);
          await login.body?.cancel();
          const refresh = await h.json("POST", "/v1/auth/refresh", {
            refresh_token: user.refreshToken,
          }, { ip });
          assert.equal(refresh.status, 429);
          assert.equal((await refresh.json()).detail.scope, "ip");
        } finally {
          await h.close();
        }
      });
    } finally {
      await backend.close();
    }
  });
}

if (TEST_REDIS_URL) {
  Deno.test("two app instances sharing one Redis share the limit", async () => {
    const env = {
      RATE_LIMIT_BACKEND: "redis",
      REDIS_URL: TEST_REDIS_URL!,
      RATE_LIMIT_TIERS: tiers(4, 1000),
    };
    const a = await startTestApp(env);
    const b = await startTestApp({ ...env, RATE_LIMIT_PREFIX: a.config.RATE_LIMIT_PREFIX });
    try {
      await awayFromWindowBoundary(60, 3000);
      // The same user row exists in each instance's database; the limit keys on its id.
      const user = await registerUser(a);
      const token = user.accessToken;
      const [row] = await a.services.sql`select * from users where id = ${user.id}`;
      const session = await a.services.sql`select * from sessions where user_id = ${user.id}`;
      await b.services.sql`insert into users ${b.services.sql(row!)}`;
      await b.services.sql`insert into sessions ${b.services.sql(session[0]!)}`;
      // b verifies a's tokens only with a's secret; share it for this test.
      const signedForB = await b.services.tokens.signAccessToken({
        sub: user.id,
        sid: session[0]!.id,
        role: "user",
      });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await whoami(a, token)).status);
      for (let i = 0; i < 3; i++) statuses.push((await whoami(b, signedForB.token)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    } finally {
      await b.close();
      await a.close();
    }
  });
}

Deno.test("limiter down: login, register and refresh answer 503; other routes pass", async () => {
  const h = await startTestApp({
    RATE_LIMIT_BACKEND: "redis",
    REDIS_URL: "redis://127.0.0.1:1",
    RATE_LIMIT_TIMEOUT_MS: "200",
  });
  try {
    // Registration itself needs the limiter, so create the account directly.
    const password = "sturdy-lantern-falls";
    const user = await insertUser(h.services.sql, {
      email: `down-${crypto.randomUUID().slice(0, 6)}@example.com`,
      passwordHash: await hashPassword(password, { logN: 14, r: 8, p: 1 }),
    });
    const pair = await h.services.sessions.start(h.services.sql, user, {
      ip: "203.0.113.1",
      userAgent: null,
      requestId: "setup",
    });
    const login = await h.json("POST", "/v1/auth/login", { email: user.email, password });
    assert.equal(login.status, 503);
    assert.equal((await login.json()).error, "service_unavailable");
    const register = await h.json("POST", "/v1/auth/register", {
      email: `new-${crypto.randomUUID().slice(0, 6)}@example.com`,
      password,
    });
    assert.equal(register.status, 503);
    await register.body?.cancel();
    const refresh = await h.json("POST", "/v1/auth/refresh", { refresh_token: pair.refresh_token });
    assert.equal(refresh.status, 503);
    await refresh.body?.cancel();
    const me = await h.json("GET", "/v1/auth/whoami", undefined, { token: pair.access_token });
    assert.equal(me.status, 200, "authenticated routes fail open");
    await me.body?.cancel();
    assert.ok(
      h.log.lines.some((l) => l.msg === "rate limiter unavailable; letting requests through"),
    );
    const health = await h.request("/health");
    const body = await health.json();
    assert.equal(health.status, 200);
    assert.equal(body.status, "degraded");
    assert.equal(body.components.rate_limiter.status, "down");
    const authHealth = await h.request("/v1/auth/health");
    assert.equal(authHealth.status, 503);
    assert.equal((await authHealth.json()).checks.rate_limiter.status, "down");
  } finally {
    await h.close();
  }
});
