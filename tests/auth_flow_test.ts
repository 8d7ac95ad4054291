import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";

Deno.test("registration and login", async (t) => {
  const h = await startTestApp();
  try {
    const email = `ada-${crypto.randomUUID().slice(0, 6)}@Example.com`;
    const password = "violet-otter-umbrella";
    let refresh = "";

    await t.step("register answers 201 with the user and a token pair", async () => {
      const res = await h.json("POST", "/v1/auth/register", {
        email,
        password,
        display_name: "Ada",
      });
      assert.equal(res.status, 201);
      const body = await res.json();
      assert.equal(body.user.email, email);
      assert.equal(body.user.role, "user");
      assert.equal(body.user.tier, "free");
      assert.equal(body.token_type, "Bearer");
      assert.ok(body.expires_in > 0 && body.expires_in <= 900);
      assert.equal(body.access_token.split(".").length, 3);
      assert.ok(body.refresh_token.length >= 43);
      assert.doesNotMatch(JSON.stringify(body), /password|scrypt/i);
      refresh = body.refresh_token;
    });

    await t.step("a taken email (any case) is 409", async () => {
      const res = await h.json("POST", "/v1/auth/register", {
        email: email.toUpperCase(),
        password,
      });
      assert.equal(res.status, 409);
      assert.equal((await res.json()).error, "conflict");
    });

    await t.step("password policy: length, common passwords, no truncation", async () => {
      for (const bad of ["short", "password123", "x".repeat(257)]) {
        const res = await h.json("POST", "/v1/auth/register", {
          email: `p-${crypto.randomUUID().slice(0, 6)}@example.com`,
          password: bad,
        });
        assert.equal(res.status, 422, bad);
        const body = await res.json();
        assert.deepEqual(body.detail.issues[0].path, ["password"]);
      }
      const long = "ü".repeat(255) + "a";
      const ok = await h.json("POST", "/v1/auth/register", {
        email: `long-${crypto.randomUUID().slice(0, 6)}@example.com`,
        password: long,
      });
      assert.equal(ok.status, 201);
      await ok.body?.cancel();
    });

    await t.step("invalid email is 422 naming the field", async () => {
      const res = await h.json("POST", "/v1/auth/register", { email: "nope", password });
      assert.equal(res.status, 422);
      assert.deepEqual((await res.json()).detail.issues[0].path, ["email"]);
    });

    await t.step("login works with any email case", async () => {
      const res = await h.json("POST", "/v1/auth/login", { email: email.toLowerCase(), password });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.ok(body.access_token && body.refresh_token);
      assert.equal(res.headers.get("cache-control"), "no-store", "token answers are never cached");
    });

    await t.step("unknown email and wrong password are indistinguishable", async () => {
      const wrong = await h.json("POST", "/v1/auth/login", { email, password: "wrong-password-1" });
      const unknown = await h.json("POST", "/v1/auth/login", {
        email: "nobody-here@example.com",
        password: "wrong-password-1",
      });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      const a = await wrong.json();
      const b = await unknown.json();
      assert.equal(a.error, b.error);
      assert.equal(a.message, b.message);
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
    });

    await t.step("refresh rotates the token", async () => {
      const res = await h.json("POST", "/v1/auth/refresh", { refresh_token: refresh });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.notEqual(body.refresh_token, refresh);
    });

    await t.step("the password is stored only as a scrypt hash", async () => {
      const [row] = await h.services.sql<{ password_hash: string }[]>`
        select password_hash from users where email_normalized = ${email.toLowerCase()}`;
      assert.match(row!.password_hash, /^\$scrypt\$ln=14,r=8,p=1\$/);
      assert.doesNotMatch(row!.password_hash, new RegExp(password));
    });
  } finally {
    await h.close();
  }
});

Deno.test("whoami, me, sessions, logout", async (t) => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h);

    await t.step("whoami describes the JWT principal", async () => {
      const res = await h.json("GET", "/v1/auth/whoami", undefined, { token: user.accessToken });
      assert.equal(res.status, 200);
      const { principal } = await res.json();
      assert.equal(principal.type, "user");
      assert.equal(principal.user_id, user.id);
      assert.equal(principal.role, "user");
      assert.ok(principal.scopes.includes("keys:write"));
      assert.ok(!principal.scopes.includes("admin"));
      assert.ok(principal.session_id);
    });

    await t.step("me returns the caller", async () => {
      const res = await h.json("GET", "/v1/auth/me", undefined, { token: user.accessToken });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).id, user.id);
    });

    await t.step("no or malformed credentials are 401", async () => {
      assert.equal((await h.request("/v1/auth/whoami")).status, 401);
      const malformed = await h.request("/v1/auth/whoami", {
        headers: { authorization: "Basic abc" },
      });
      assert.equal(malformed.status, 401);
      const garbage = await h.json("GET", "/v1/auth/whoami", undefined, { token: "not.a.jwt" });
      assert.equal(garbage.status, 401);
      const refreshAsAccess = await h.json("GET", "/v1/auth/whoami", undefined, {
        token: user.refreshToken,
      });
      assert.equal(refreshAsAccess.status, 401);
    });

    await t.step("sessions are listed and one can be revoked", async () => {
      const login = await h.json("POST", "/v1/auth/login", {
        email: user.email,
        password: user.password,
      });
      const second = await login.json();
      const res = await h.json("GET", "/v1/auth/sessions", undefined, { token: user.accessToken });
      assert.equal(res.status, 200);
      const page = await res.json();
      assert.equal(page.total, 2);
      assert.equal(page.items.filter((s: { current: boolean }) => s.current).length, 1);
      const other = page.items.find((s: { current: boolean }) => !s.current);
      const del = await h.json("DELETE", `/v1/auth/sessions/${other.id}`, undefined, {
        token: user.accessToken,
      });
      assert.equal(del.status, 204);
      const after = await h.json("GET", "/v1/auth/whoami", undefined, {
        token: second.access_token,
      });
      assert.equal(after.status, 401, "a revoked session's access token stops working");
      const refreshed = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: second.refresh_token,
      });
      assert.equal(refreshed.status, 401);
    });

    await t.step("another user's session id is 404", async () => {
      const stranger = await registerUser(h);
      const sessions = await (await h.json("GET", "/v1/auth/sessions", undefined, {
        token: stranger.accessToken,
      })).json();
      const res = await h.json("DELETE", `/v1/auth/sessions/${sessions.items[0].id}`, undefined, {
        token: user.accessToken,
      });
      assert.equal(res.status, 404);
    });

    await t.step("logout ends the session; tokens stop working", async () => {
      const res = await h.json("POST", "/v1/auth/logout", undefined, { token: user.accessToken });
      assert.equal(res.status, 204);
      const after = await h.json("GET", "/v1/auth/whoami", undefined, { token: user.accessToken });
      assert.equal(after.status, 401);
      const refreshed = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: user.refreshToken,
      });
      assert.equal(refreshed.status, 401);
    });

    await t.step("logout of all sessions", async () => {
      const u = await registerUser(h);
      const other =
        await (await h.json("POST", "/v1/auth/login", { email: u.email, password: u.password }))
          .json();
      const res = await h.json("POST", "/v1/auth/logout", { all_sessions: true }, {
        token: u.accessToken,
      });
      assert.equal(res.status, 204);
      for (const token of [u.accessToken, other.access_token]) {
        const r = await h.json("GET", "/v1/auth/whoami", undefined, { token });
        assert.equal(r.status, 401);
      }
    });

    await t.step("password change revokes every session", async () => {
      const u = await registerUser(h);
      const res = await h.json("POST", "/v1/auth/password", {
        current_password: u.password,
        new_password: "a-brand-new-passphrase",
      }, { token: u.accessToken });
      assert.equal(res.status, 204);
      assert.equal(
        (await h.json("GET", "/v1/auth/whoami", undefined, { token: u.accessToken })).status,
        401,
      );
      const login = await h.json("POST", "/v1/auth/login", {
        email: u.email,
        password: "a-brand-new-passphrase",
      });
      assert.equal(login.status, 200);
      await login.body?.cancel();
    });

    await t.step("a disabled account is refused", async () => {
      const u = await registerUser(h);
      await h.services.sql`update users set disabled = true where id = ${u.id}`;
      h.services.authenticator.forgetAll();
      const res = await h.json("GET", "/v1/auth/whoami", undefined, { token: u.accessToken });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    });
  } finally {
    await h.close();
  }
});

Deno.test("refresh token rotation and reuse detection", async (t) => {
  const h = await startTestApp();
  try {
    await t.step("parallel refreshes of one token never 500 and keep the session", async () => {
      const user = await registerUser(h);
      const results = await Promise.all(
        Array.from(
          { length: 5 },
          () => h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken }),
        ),
      );
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200), `statuses: ${statuses}`);
      const bodies = await Promise.all(results.map((r) => r.json()));
      const refreshTokens = new Set(bodies.map((b) => b.refresh_token));
      assert.equal(refreshTokens.size, 1, "every racer receives the same active refresh token");
      const next = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: [...refreshTokens][0],
      });
      assert.equal(next.status, 200, "the session survives");
      await next.body?.cancel();
    });

    await t.step("reuse outside the grace window revokes the family and is audited", async () => {
      const user = await registerUser(h);
      const first =
        await (await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken }))
          .json();
      const second =
        await (await h.json("POST", "/v1/auth/refresh", { refresh_token: first.refresh_token }))
          .json();
      // The grandparent is no longer the active token's immediate parent: reuse.
      const reuse = await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken });
      assert.equal(reuse.status, 401);
      await reuse.body?.cancel();
      const after = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: second.refresh_token,
      });
      assert.equal(after.status, 401, "the whole family is revoked");
      await after.body?.cancel();
      const events = await h.services.sql`
        select 1 from audit_events where action = 'auth.refresh_reuse' and user_id = ${user.id}`;
      assert.equal(events.length, 1);
    });

    await t.step("reuse of the parent after the grace window revokes too", async () => {
      const h2 = await startTestApp({ REFRESH_REUSE_GRACE_SECONDS: "0" });
      try {
        const user = await registerUser(h2);
        const first =
          await (await h2.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken }))
            .json();
        await new Promise((r) => setTimeout(r, 20));
        const reuse = await h2.json("POST", "/v1/auth/refresh", {
          refresh_token: user.refreshToken,
        });
        assert.equal(reuse.status, 401);
        await reuse.body?.cancel();
        const child = await h2.json("POST", "/v1/auth/refresh", {
          refresh_token: first.refresh_token,
        });
        assert.equal(child.status, 401);
        await child.body?.cancel();
      } finally {
        await h2.close();
      }
    });

    await t.step("refresh tokens are stored only as hashes", async () => {
      const user = await registerUser(h);
      const rows = await h.services.sql`select token_hash from refresh_tokens`;
      assert.ok(rows.every((r) => r.token_hash !== user.refreshToken));
      assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash)));
    });

    await t.step("unknown refresh token is 401", async () => {
      const res = await h.json("POST", "/v1/auth/refresh", {
        refresh_token: "rt_" + "A".repeat(43),
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });
  } finally {
    await h.close();
  }
});
