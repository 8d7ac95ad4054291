/**
 * Findings 1-4, 14 and 15 of the attack review (issue 14), one test each that
 * failed on the code before the fix. Rate-limit findings run on every limiter
 * backend available (memory; with TEST_REDIS_URL also Redis and the Upstash
 * REST protocol).
 */
import assert from "node:assert/strict";
import { keyReachRefusal } from "../src/auth/access.ts";
import { apiKeyStart, generateApiKey, hashApiKey } from "../src/auth/api_key_format.ts";
import type { Principal } from "../src/principal.ts";
import { insertApiKey } from "../src/db/api_keys.ts";
import { startAppWithMock } from "./support/chat.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { awayFromWindowBoundary, limiterBackends } from "./support/limiter.ts";
import {
  call,
  context,
  createChatbot,
  type Json,
  putDetails,
  seedConversation,
  startRoomyTestApp,
} from "./support/user_context_fixtures.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

async function statusOf(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

function count(statuses: number[], status: number): number {
  return statuses.filter((s) => s === status).length;
}

/** A key row written as the old code allowed (e.g. bound with every scope). */
async function legacyKey(
  h: TestApp,
  user: TestUser,
  fields: { scopes: string[]; chatbotId?: string },
): Promise<{ id: string; key: string }> {
  const key = generateApiKey();
  const row = await insertApiKey(h.services.sql, {
    userId: user.id,
    name: "legacy",
    keyHash: hashApiKey(key),
    start: apiKeyStart(key),
    scopes: fields.scopes as never,
    chatbotId: fields.chatbotId ?? null,
    tier: null,
    perMinute: null,
    perDay: null,
    expiresAt: null,
  });
  return { id: row.id, key };
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

// 1 (High): a key manages only keys it could itself create.
Deno.test("security 1: a key creates, rolls and revokes only keys within its own reach", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const owner = await registerUser(h);
    const bot = await createChatbot(h, owner, { name: "A" });
    const full = await createKey(h, owner, { name: "full" });
    const manager = await createKey(h, owner, { name: "mgr", scopes: ["keys:write", "query"] });
    const queryOnly = await createKey(h, owner, { name: "q", scopes: ["query"] });

    await t.step("rolling or revoking a key with wider scopes is 403", async () => {
      const roll = await call(h, "POST", `/v1/api-keys/${full.id}/roll`, manager.key, {});
      assert.equal(roll.status, 403, JSON.stringify(roll.body));
      assert.equal(roll.body.key, undefined);
      assert.deepEqual(roll.body.detail.scopes.includes("profile:write"), true);
      const revoke = await call(h, "DELETE", `/v1/api-keys/${full.id}`, manager.key);
      assert.equal(revoke.status, 403);
      assert.equal((await call(h, "GET", "/v1/auth/whoami", full.key)).status, 200);
    });

    await t.step("a key within its reach is rolled and revoked", async () => {
      const roll = await call(h, "POST", `/v1/api-keys/${queryOnly.id}/roll`, manager.key, {});
      assert.equal(roll.status, 200);
      const revoke = await call(h, "DELETE", `/v1/api-keys/${queryOnly.id}`, manager.key);
      assert.equal(revoke.status, 204);
    });

    await t.step("a bound key (stored with keys:write) cannot roll an unbound key", async () => {
      const bound = await legacyKey(h, owner, {
        scopes: ["keys:write", "query", "chat", "profile:read"],
        chatbotId: bot.id,
      });
      const roll = await call(h, "POST", `/v1/api-keys/${full.id}/roll`, bound.key, {});
      assert.equal(roll.status, 403);
      assert.equal(roll.body.key, undefined);
    });

    await t.step("the user's JWT rolls any of the user's keys", async () => {
      const roll = await call(h, "POST", `/v1/api-keys/${full.id}/roll`, owner, {});
      assert.equal(roll.status, 200);
      assert.match(roll.body.key, /^gate_/);
    });

    await t.step("a key with an expiry mints only children that expire no later", async () => {
      const expiring = await createKey(h, owner, {
        name: "exp",
        scopes: ["keys:write", "query"],
        expires_at: inDays(1),
      });
      const forever = await call(h, "POST", "/v1/api-keys", expiring.key, {
        name: "child",
        scopes: ["query"],
      });
      assert.equal(forever.status, 403, JSON.stringify(forever.body));
      assert.equal(forever.body.detail.reason, "expiry");
      const later = await call(h, "POST", "/v1/api-keys", expiring.key, {
        name: "child",
        scopes: ["query"],
        expires_at: inDays(2),
      });
      assert.equal(later.status, 403);
      const sooner = await call(h, "POST", "/v1/api-keys", expiring.key, {
        name: "child",
        scopes: ["query"],
        expires_at: inDays(0.5),
      });
      assert.equal(sooner.status, 201);
      const sibling = await createKey(h, owner, { name: "sib", scopes: ["query"] });
      const roll = await call(h, "POST", `/v1/api-keys/${sibling.id}/roll`, expiring.key, {});
      assert.equal(roll.status, 403, "a never-expiring key is beyond an expiring key's reach");
    });
  } finally {
    await h.close();
  }
});

Deno.test("security 1: an admin's keys:write key cannot reach an admin-scoped key", async () => {
  const h = await startRoomyTestApp();
  try {
    const admin = await registerUser(h, { role: "admin" });
    const writer = await createKey(h, admin, { name: "w", scopes: ["keys:write", "query"] });
    const root = await createKey(h, admin, { name: "root", scopes: ["admin", "query"] });
    const roll = await call(h, "POST", `/v1/api-keys/${root.id}/roll`, writer.key, {});
    assert.equal(roll.status, 403);
    assert.equal(roll.body.key, undefined);
    assert.equal((await call(h, "DELETE", `/v1/api-keys/${root.id}`, writer.key)).status, 403);
    const grant = await call(h, "POST", "/v1/api-keys", writer.key, {
      name: "x",
      scopes: ["admin"],
    });
    assert.equal(grant.status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("security 1: keyReachRefusal is the one rule (binding, scopes, expiry, admin settings)", () => {
  const actor: Principal = {
    type: "api_key",
    userId: "u",
    role: "user",
    tier: "free",
    scopes: ["keys:write", "query", "chat"],
    apiKeyId: "k",
    chatbotId: "bot-a",
    expiresAt: new Date("2030-01-01T00:00:00Z"),
  };
  const shape = {
    scopes: ["query" as const],
    chatbotId: "bot-a",
    expiresAt: new Date("2029-01-01T00:00:00Z"),
    tier: null,
    rateLimitPerMinute: null,
    rateLimitPerDay: null,
  };
  assert.equal(keyReachRefusal(actor, shape), null);
  assert.equal(
    keyReachRefusal(actor, { ...shape, chatbotId: null })?.detail.reason,
    "chatbot_binding",
  );
  assert.equal(
    keyReachRefusal(actor, { ...shape, chatbotId: "bot-b" })?.detail.reason,
    "chatbot_binding",
  );
  assert.equal(keyReachRefusal(actor, { ...shape, scopes: ["admin"] })?.detail.reason, "scopes");
  assert.equal(keyReachRefusal(actor, { ...shape, expiresAt: null })?.detail.reason, "expiry");
  assert.equal(keyReachRefusal(actor, { ...shape, tier: "pro" })?.detail.reason, "admin_settings");
  const jwt: Principal = { type: "user", userId: "u", role: "user", tier: "free", scopes: [] };
  assert.equal(keyReachRefusal(jwt, { ...shape, scopes: ["admin"], chatbotId: null }), null);
});

// 2 (Medium): limits per user across credentials; caps.
for (const backend of await limiterBackends()) {
  Deno.test(`security 2: one budget per user across credentials (${backend.name})`, async (t) => {
    try {
      await t.step("the JWT and every key share the user's window", async () => {
        const h = await startTestApp({
          ...backend.env,
          RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 8, per_day: 1000 } }),
        });
        try {
          await awayFromWindowBoundary();
          const user = await registerUser(h);
          // Three creates: three requests of the user's eight.
          const keys = [
            await createKey(h, user, { name: "a" }),
            await createKey(h, user, { name: "b" }),
            await createKey(h, user, { name: "c" }),
          ];
          const credentials = [user.accessToken, ...keys.map((k) => k.key)];
          const statuses: number[] = [];
          for (let i = 0; i < 12; i++) {
            const token = credentials[i % credentials.length]!;
            statuses.push(
              await statusOf(await h.json("GET", "/v1/auth/whoami", undefined, { token })),
            );
          }
          assert.equal(count(statuses, 200), 5, statuses.join(","));
          assert.equal(count(statuses, 429), 7);
          const denied = await h.json("GET", "/v1/auth/whoami", undefined, { token: keys[2]!.key });
          assert.equal(denied.status, 429);
          const body = await denied.json();
          assert.equal(body.detail.scope, "user");
          assert.equal(body.detail.limit, 8);
        } finally {
          await h.close();
        }
      });

      await t.step(
        "overrides only narrow; only an admin-set tier gives a key its own budget",
        async () => {
          const h = await startTestApp({
            ...backend.env,
            RATE_LIMIT_TIERS: JSON.stringify({
              free: { per_minute: 4, per_day: 1000 },
              pro: { per_minute: 6, per_day: 1000 },
            }),
          });
          try {
            await awayFromWindowBoundary();
            const admin = await registerUser(h, { role: "admin" });
            const wide = await createKey(h, admin, { name: "wide", rate_limit_per_minute: 1000 });
            const own = await createKey(h, admin, { name: "own", tier: "pro" });
            // Two of the admin's four went to the creates; a wide override adds nothing.
            const wideStatuses = [];
            for (let i = 0; i < 4; i++) {
              wideStatuses.push(
                await statusOf(
                  await h.json("GET", "/v1/auth/whoami", undefined, { token: wide.key }),
                ),
              );
            }
            assert.deepEqual(wideStatuses, [200, 200, 429, 429]);
            // The pro key counts apart: its own six, though the user's budget is spent.
            const ownStatuses = [];
            for (let i = 0; i < 7; i++) {
              ownStatuses.push(
                await statusOf(
                  await h.json("GET", "/v1/auth/whoami", undefined, { token: own.key }),
                ),
              );
            }
            assert.deepEqual(ownStatuses, [200, 200, 200, 200, 200, 200, 429]);
            const jwt = await h.json("GET", "/v1/auth/whoami", undefined, {
              token: admin.accessToken,
            });
            assert.equal(jwt.status, 429, "the pro key's calls did not refill the user's budget");
            await jwt.body?.cancel();
          } finally {
            await h.close();
          }
        },
      );
    } finally {
      await backend.close();
    }
  });
}

Deno.test("security 2: MAX_API_KEYS_PER_USER caps live keys, also under parallel creates", async () => {
  const h = await startTestApp({
    MAX_API_KEYS_PER_USER: "3",
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 10_000, per_day: 100_000 } }),
  });
  try {
    const user = await registerUser(h);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => call(h, "POST", "/v1/api-keys", user, { name: `k${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 3);
    const refused = results.filter((r) => r.status === 409);
    assert.equal(refused.length, 3);
    assert.equal(refused[0]!.body.error, "conflict");
    assert.match(refused[0]!.body.message, /3/);
    const first = results.find((r) => r.status === 201)!.body.id;
    assert.equal((await call(h, "DELETE", `/v1/api-keys/${first}`, user)).status, 204);
    assert.equal((await call(h, "POST", "/v1/api-keys", user, { name: "again" })).status, 201);
    const other = await registerUser(h);
    assert.equal((await call(h, "POST", "/v1/api-keys", other, { name: "x" })).status, 201);
  } finally {
    await h.close();
  }
});

Deno.test("security 2: concurrent model calls are capped per user across credentials", async (t) => {
  const { h, close } = await startAppWithMock({ slow: { chunkDelayMs: 150, reply: "a b c d" } }, {
    MAX_CONCURRENT_QUERIES_PER_USER: "2",
    MAX_STREAMS_PER_PRINCIPAL: "1",
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 10_000, per_day: 100_000 } }),
  });
  try {
    const user = await registerUser(h);
    const key = await createKey(h, user, { name: "k" });
    const query = (token: string, stream = false) =>
      h.json("POST", "/v1/query", { prompt: "hi", mode: "speed", stream }, { token });

    await t.step("non-streaming: at most the cap run, the rest 429 with the detail", async () => {
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, i) => query(i % 2 ? key.key : user.accessToken)),
      );
      const bodies: Json[] = await Promise.all(responses.map((r) => r.json()));
      const statuses = responses.map((r) => r.status);
      assert.equal(count(statuses, 200), 2, statuses.join(","));
      assert.equal(count(statuses, 429), 4);
      const refusal = bodies[statuses.indexOf(429)];
      assert.equal(refusal.error, "rate_limited");
      assert.equal(refusal.detail.policy, "concurrent_queries");
      assert.equal(refusal.detail.scope, "user");
      assert.equal(refusal.detail.limit, 2);
      assert.equal(responses[statuses.indexOf(429)]!.headers.get("retry-after"), "1");
      // Slots are given back: the next call runs.
      assert.equal(await statusOf(await query(key.key)), 200);
    });

    await t.step("streams: the key and the JWT share the user's stream cap", async () => {
      const open = await query(user.accessToken, true);
      assert.equal(open.status, 200);
      const second = await query(key.key, true);
      assert.equal(second.status, 429);
      assert.equal((await second.json()).detail.policy, "concurrent_streams");
      await open.text();
    });
  } finally {
    await close();
  }
});

// 3 (Medium): the failure slot is taken before the password is checked.
for (const backend of await limiterBackends()) {
  Deno.test(`security 3: parallel wrong passwords, at most N checked (${backend.name})`, async (t) => {
    try {
      await t.step("40 parallel wrong logins from one address: N are checked", async () => {
        const h = await startTestApp({
          ...backend.env,
          LOGIN_FAILURES_PER_ACCOUNT: "5",
          RATE_LIMIT_IP_PER_MINUTE: "1000",
        });
        try {
          const victim = await registerUser(h, { ip: "192.0.2.10" });
          const locked: unknown[] = [];
          h.services.loginGuard.onAccountLocked = (event) => {
            locked.push(event);
          };
          const statuses = await Promise.all(Array.from({ length: 40 }, async (_, i) =>
            statusOf(
              await h.json("POST", "/v1/auth/login", {
                email: victim.email,
                password: `wrong-guess-${i}`,
              }, { ip: "203.0.113.66" }),
            )));
          assert.equal(count(statuses, 401), 5, statuses.join(","));
          assert.equal(count(statuses, 429), 35);
          const [row] = await h.services.sql<{ n: number }[]>`
            select count(*)::int as n from audit_events where action = 'auth.login_failed'`;
          assert.equal(row!.n, 5, "only checked passwords are failures");
          assert.deepEqual(locked, [{ userId: victim.id, ip: "203.0.113.66" }]);
          const owner = await h.json("POST", "/v1/auth/login", {
            email: victim.email,
            password: victim.password,
          }, { ip: "192.0.2.10" });
          assert.equal(owner.status, 200, "the owner's own network still logs in");
          await owner.body?.cancel();
        } finally {
          await h.close();
        }
      });

      await t.step(
        "40 parallel wrong logins from 40 addresses: N checked account-wide",
        async () => {
          const h = await startTestApp({
            ...backend.env,
            LOGIN_FAILURES_PER_ACCOUNT: "4",
            RATE_LIMIT_IP_PER_MINUTE: "1000",
          });
          try {
            const victim = await registerUser(h, { ip: "192.0.2.10" });
            const statuses = await Promise.all(Array.from({ length: 40 }, async (_, i) =>
              statusOf(
                await h.json("POST", "/v1/auth/login", {
                  email: victim.email,
                  password: `wrong-guess-${i}`,
                }, { ip: `203.0.113.${i + 1}` }),
              )));
            assert.equal(count(statuses, 401), 4, statuses.join(","));
            assert.equal(count(statuses, 429), 36);
          } finally {
            await h.close();
          }
        },
      );

      await t.step("a right password gives its slot back", async () => {
        const h = await startTestApp({
          ...backend.env,
          LOGIN_FAILURES_PER_ACCOUNT: "2",
          RATE_LIMIT_IP_PER_MINUTE: "1000",
        });
        try {
          const user = await registerUser(h, { ip: "192.0.2.10" });
          const login = async (password: string) =>
            statusOf(
              await h.json("POST", "/v1/auth/login", { email: user.email, password }, {
                ip: "203.0.113.7",
              }),
            );
          const statuses = [];
          for (let i = 0; i < 3; i++) statuses.push(await login(user.password));
          statuses.push(await login("wrong-one-1"), await login("wrong-one-2"));
          statuses.push(await login("wrong-one-3"), await login(user.password));
          assert.deepEqual(statuses, [200, 200, 200, 401, 401, 429, 429]);
        } finally {
          await h.close();
        }
      });

      await t.step("a wrong current password on changePassword counts the same", async () => {
        const h = await startTestApp({
          ...backend.env,
          LOGIN_FAILURES_PER_ACCOUNT: "3",
          RATE_LIMIT_IP_PER_MINUTE: "1000",
        });
        try {
          const user = await registerUser(h, { ip: "192.0.2.10" });
          const statuses = await Promise.all(Array.from({ length: 12 }, async (_, i) =>
            statusOf(
              await h.json("POST", "/v1/auth/password", {
                current_password: `not-it-${i}`,
                new_password: "a-brand-new-passphrase-42",
              }, { token: user.accessToken, ip: "203.0.113.9" }),
            )));
          assert.equal(count(statuses, 422), 3, statuses.join(","));
          assert.equal(count(statuses, 429), 9);
          // The same account budget: a login from elsewhere is refused too.
          const login = await h.json("POST", "/v1/auth/login", {
            email: user.email,
            password: user.password,
          }, { ip: "198.51.100.201" });
          assert.equal(login.status, 429);
          await login.body?.cancel();
        } finally {
          await h.close();
        }
      });
    } finally {
      await backend.close();
    }
  });
}

// 4 (High): chatbot-bound keys are confined to their chatbot.
Deno.test("security 4: a chatbot-bound key reaches only its chatbot", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const ada = await registerUser(h);
    await call(h, "PATCH", `/v1/users/${ada.id}`, ada, { company: "AE", first_name: "Ada" });
    await putDetails(h, ada, { profile: { city: "Oslo", secret: "s3" }, preferences: {} });
    const bot = await createChatbot(h, ada, {
      name: "Bound",
      context_fields: ["city"],
      require_consent: true,
    });
    const other = await createChatbot(h, ada, { name: "Other" });
    const key = await createKey(h, ada, { name: "bot", chatbot_id: bot.id });
    const otherTalk = await seedConversation(h, ada.id, [{
      role: "user",
      content: "other chatbot's secret talk",
    }], other.id);
    const ownTalk = await seedConversation(h, ada.id, [{ role: "user", content: "hello" }], bot.id);

    await t.step("default scopes are query and chat; more than the four is 422", async () => {
      const who = await call(h, "GET", "/v1/auth/whoami", key.key);
      assert.deepEqual(who.body.principal.scopes, ["query", "chat"]);
      const wide = await call(h, "POST", "/v1/api-keys", ada, {
        name: "wide",
        chatbot_id: bot.id,
        scopes: ["query", "profile:read"],
      });
      assert.equal(wide.status, 422);
      assert.deepEqual(wide.body.detail.issues[0].path, ["scopes"]);
      const allowed = await call(h, "POST", "/v1/api-keys", ada, {
        name: "ok",
        chatbot_id: bot.id,
        scopes: ["query", "chat", "chatbots:read", "usage:read"],
      });
      assert.equal(allowed.status, 201);
    });

    await t.step("no profile, no account: /auth/me, users and keys are 403", async () => {
      for (
        const [method, path] of [
          ["GET", "/v1/auth/me"],
          ["GET", `/v1/users/${ada.id}`],
          ["GET", "/v1/api-keys"],
          ["GET", `/v1/api-keys/${key.id}`],
        ]
      ) {
        const res = await call(h, method!, path!, key.key);
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.ok(!JSON.stringify(res.body).includes(ada.email));
      }
    });

    await t.step("the context is the chatbot's view, only its conversations", async () => {
      const own = await context(h, key.key, ada.id, { conversation_id: ownTalk });
      assert.equal(own.status, 200);
      assert.deepEqual(own.body.user_profile, {}, "city needs consent first");
      assert.equal(own.body.conversation_context.length, 1);
      const foreign = await context(h, key.key, ada.id, { conversation_id: otherTalk });
      assert.equal(foreign.status, 404);
      assert.ok(!JSON.stringify(foreign.body).includes("secret talk"));
    });

    await t.step("cannot approve consent, change the chatbot, or erase the account", async () => {
      const pending = (await context(h, key.key, ada.id)).body.requires_consent;
      const approve = await call(h, "POST", "/v1/chat/consent", key.key, {
        consent_request_id: pending.consent_request_id,
        approved: true,
      });
      assert.equal(approve.status, 403);
      const widen = await call(h, "PATCH", `/v1/chatbots/${bot.id}`, key.key, {
        require_consent: false,
        context_fields: ["city", "secret", "email"],
      });
      assert.equal(widen.status, 403);
      assert.equal((await call(h, "DELETE", `/v1/chatbots/${bot.id}`, key.key)).status, 403);
      assert.equal((await call(h, "DELETE", `/v1/users/${ada.id}`, key.key)).status, 403);
      assert.equal((await call(h, "GET", `/v1/users/${ada.id}`, ada)).status, 200);
      const [row] = await h.services.sql<{ require_consent: boolean; context_fields: string[] }[]>`
        select require_consent, context_fields from chatbots where id = ${bot.id}`;
      assert.deepEqual(row, { require_consent: true, context_fields: ["city"] });
      assert.deepEqual((await context(h, key.key, ada.id)).body.user_profile, {});
    });

    await t.step("a bound key stored with every scope acts with the four only", async () => {
      const legacy = await legacyKey(h, ada, {
        scopes: ["query", "chat", "profile:read", "profile:write", "chatbots:write", "usage:read"],
        chatbotId: bot.id,
      });
      const who = await call(h, "GET", "/v1/auth/whoami", legacy.key);
      assert.deepEqual(who.body.principal.scopes, ["query", "chat", "usage:read"]);
      assert.equal((await call(h, "GET", `/v1/users/${ada.id}`, legacy.key)).status, 403);
      assert.equal((await call(h, "GET", "/v1/auth/me", legacy.key)).status, 403);
      const widen = await call(h, "PATCH", `/v1/chatbots/${bot.id}`, legacy.key, {
        require_consent: false,
      });
      assert.equal(widen.status, 403);
      assert.equal((await call(h, "DELETE", `/v1/users/${ada.id}`, legacy.key)).status, 403);
    });

    await t.step("account deletion, password change and consent need the JWT", async () => {
      const full = await createKey(h, ada, { name: "full" });
      assert.equal((await call(h, "DELETE", `/v1/users/${ada.id}`, full.key)).status, 403);
      const pw = await call(h, "POST", "/v1/auth/password", full.key, {
        current_password: ada.password,
        new_password: "another-fine-passphrase-7",
      });
      assert.equal(pw.status, 403);
      const pending = (await context(h, ada, ada.id, { chatbot_id: bot.id })).body
        .requires_consent;
      const approve = await call(h, "POST", "/v1/chat/consent", full.key, {
        consent_request_id: pending.consent_request_id,
        approved: true,
      });
      assert.equal(approve.status, 403);
      const byUser = await call(h, "POST", "/v1/chat/consent", ada, {
        consent_request_id: pending.consent_request_id,
        approved: true,
      });
      assert.equal(byUser.status, 200);
      assert.deepEqual((await context(h, key.key, ada.id)).body.user_profile, { city: "Oslo" });
    });
  } finally {
    await h.close();
  }
});

// 14 (Low): the token's subject must be its session's user.
Deno.test("security 14: an access token whose sub is not its session's user is refused", async () => {
  const h = await startRoomyTestApp();
  try {
    const alice = await registerUser(h);
    const bob = await registerUser(h);
    const who = await call(h, "GET", "/v1/auth/whoami", alice);
    const forged = await h.services.tokens.signAccessToken({
      sub: bob.id,
      sid: who.body.principal.session_id,
      role: "user",
    });
    const res = await h.json("GET", "/v1/auth/me", undefined, { token: forged.token });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, "unauthorized");
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    const genuine = await h.services.tokens.signAccessToken({
      sub: alice.id,
      sid: who.body.principal.session_id,
      role: "user",
    });
    assert.equal((await call(h, "GET", "/v1/auth/me", genuine.token)).body.id, alice.id);
  } finally {
    await h.close();
  }
});

// 15 (Low): RFC 6750 challenge on every 401.
Deno.test("security 15: every 401 carries WWW-Authenticate: Bearer", async () => {
  const h = await startRoomyTestApp();
  try {
    const user = await registerUser(h);
    const probes: [string, () => Promise<Response>, RegExp][] = [
      ["no credentials", () => h.request("/v1/auth/whoami"), /^Bearer$/],
      [
        "garbage token",
        () => h.json("GET", "/v1/auth/whoami", undefined, { token: "not-a-token" }),
        /^Bearer error="invalid_token"$/,
      ],
      [
        "unknown key",
        () => h.request("/v1/auth/whoami", { headers: { "x-api-key": generateApiKey() } }),
        /^Bearer error="invalid_token"$/,
      ],
      [
        "malformed Authorization",
        () => h.request("/v1/auth/whoami", { headers: { authorization: "Basic abc" } }),
        /^Bearer/,
      ],
      [
        "wrong password",
        () => h.json("POST", "/v1/auth/login", { email: user.email, password: "wrong-password-1" }),
        /^Bearer/,
      ],
      [
        "bad refresh token",
        () => h.json("POST", "/v1/auth/refresh", { refresh_token: "nope" }),
        /^Bearer/,
      ],
      [
        "bad WebSocket ticket",
        () =>
          h.request("/v1/chat/ws?ticket=nope", {
            headers: { upgrade: "websocket", connection: "Upgrade" },
          }),
        /^Bearer/,
      ],
    ];
    for (const [name, send, challenge] of probes) {
      const res = await send();
      assert.equal(res.status, 401, name);
      assert.match(res.headers.get("www-authenticate") ?? "", challenge, name);
      await res.body?.cancel();
    }
    const doc = await (await h.request("/openapi.json")).json();
    const unauthorized = doc.paths["/v1/auth/whoami"].get.responses["401"];
    assert.ok(unauthorized.headers["WWW-Authenticate"], "the 401 declares the header");
  } finally {
    await h.close();
  }
});
