import assert from "node:assert/strict";
import type { TestApp } from "./support/harness.ts";
import { call, putDetails, startRoomyTestApp } from "./support/user_context_fixtures.ts";
import { createKey, registerUser, type TestUser } from "./support/users.ts";

async function userRow(h: TestApp, id: string) {
  const [row] = await h.services.sql<
    { email: string; role: string; tier: string; disabled: boolean; created_at: Date }[]
  >`select email, role, tier, disabled, created_at from users where id = ${id}`;
  return row!;
}

Deno.test("users: self read and update", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const ada = await registerUser(h, { displayName: "Ada" });
    const path = `/v1/users/${ada.id}`;

    await t.step("getUser on yourself answers the user, never secrets", async () => {
      const res = await call(h, "GET", path, ada);
      assert.equal(res.status, 200);
      assert.equal(res.body.id, ada.id);
      assert.equal(res.body.email, ada.email);
      assert.equal(res.body.display_name, "Ada");
      assert.doesNotMatch(JSON.stringify(res.body), /password|scrypt|hash/i);
    });

    await t.step("updateUser sets the contract's fields; null clears one", async () => {
      const res = await call(h, "PATCH", path, ada, {
        first_name: "Ada",
        last_name: "Lovelace",
        company: "Analytical Engines",
        job_title: "Engineer",
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.last_name, "Lovelace");
      assert.equal(res.body.company, "Analytical Engines");
      const cleared = await call(h, "PATCH", path, ada, { job_title: null });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.job_title, null);
      assert.equal(cleared.body.company, "Analytical Engines");
    });

    await t.step("an empty name is 422", async () => {
      const res = await call(h, "PATCH", path, ada, { first_name: "   " });
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.detail.issues[0].path, ["first_name"]);
    });

    await t.step("mass assignment: unlisted fields are 422 and never applied", async () => {
      const before = await userRow(h, ada.id);
      const attempts: Record<string, unknown>[] = [
        { id: crypto.randomUUID() },
        { user_id: crypto.randomUUID() },
        { created_at: "2000-01-01T00:00:00Z" },
        { email: "takeover@example.com" },
        { password_hash: "x" },
        { display_name: "Ok", is_admin: true },
      ];
      for (const body of attempts) {
        const res = await call(h, "PATCH", path, ada, body);
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.equal(res.body.error, "validation_error");
      }
      assert.deepEqual(await userRow(h, ada.id), before);
    });

    await t.step(
      "role, tier and disabled are 403 for a non-admin, even on themselves",
      async () => {
        const before = await userRow(h, ada.id);
        for (const body of [{ role: "admin" }, { tier: "enterprise" }, { disabled: false }]) {
          const res = await call(h, "PATCH", path, ada, { display_name: "Sneaky", ...body });
          assert.equal(res.status, 403, JSON.stringify(body));
        }
        assert.deepEqual(await userRow(h, ada.id), before);
        assert.equal((await call(h, "GET", path, ada)).body.display_name, "Ada");
      },
    );

    await t.step("API keys: updateUser needs profile:write, getUser profile:read", async () => {
      const readOnly = await createKey(h, ada, { name: "ro", scopes: ["profile:read"] });
      assert.equal((await call(h, "GET", path, readOnly.key)).status, 200);
      const denied = await call(h, "PATCH", path, readOnly.key, { company: "Nope" });
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.body.detail.missing_scopes, ["profile:write"]);
      const noProfile = await createKey(h, ada, { name: "q", scopes: ["query"] });
      assert.equal((await call(h, "GET", path, noProfile.key)).status, 403);
      const writer = await createKey(h, ada, { name: "rw", scopes: ["profile:write"] });
      const ok = await call(h, "PATCH", path, writer.key, { company: "Via key" });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.company, "Via key");
    });
  } finally {
    await h.close();
  }
});

Deno.test("users: details are bounded and replaced whole", async (t) => {
  const h = await startRoomyTestApp();
  try {
    const ada: TestUser = await registerUser(h);
    const path = `/v1/users/${ada.id}/details`;
    const stored = async () => {
      const [row] = await h.services.sql<{ profile: unknown; preferences: unknown }[]>`
        select profile, preferences from user_details where user_id = ${ada.id}`;
      return row;
    };

    await t.step("putUserDetails stores profile, preferences and profile_data", async () => {
      const res = await call(h, "PUT", path, ada, {
        profile: { city: "London", interests: ["math", "poetry"], address: { zip: "N1" } },
        preferences: { language: "en", tone: "formal" },
        profile_data: "Prefers short answers.",
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.user_id, ada.id);
      assert.deepEqual(res.body.profile.address, { zip: "N1" });
      assert.equal(res.body.profile_data, "Prefers short answers.");
      assert.ok(Date.parse(res.body.updated_at));
    });

    await t.step("a second PUT replaces everything", async () => {
      await putDetails(h, ada, { profile: { city: "Paris" }, preferences: {} });
      assert.deepEqual(await stored(), { profile: { city: "Paris" }, preferences: {} });
    });

    await t.step("unknown fields are 422 and nothing changes", async () => {
      for (const extra of [{ user_id: crypto.randomUUID() }, { role: "admin" }, { id: "x" }]) {
        const res = await call(h, "PUT", path, ada, {
          profile: { city: "Rome" },
          preferences: {},
          ...extra,
        });
        assert.equal(res.status, 422, JSON.stringify(extra));
      }
      assert.deepEqual(await stored(), { profile: { city: "Paris" }, preferences: {} });
    });

    await t.step("profile and preferences over the key, depth or size limits are 422", async () => {
      const tooManyKeys = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
      const tooManyNested = {
        a: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])),
      };
      const tooDeep = { a: { b: { c: { d: 1 } } } };
      const tooDeepArray = { a: [[[1]]] };
      const tooBig = { notes: "x".repeat(16 * 1024) };
      const longKey = { ["k".repeat(65)]: 1 };
      for (const bad of [tooManyKeys, tooManyNested, tooDeep, tooDeepArray, tooBig, longKey]) {
        for (const field of ["profile", "preferences"]) {
          const body = { profile: {}, preferences: {}, [field]: bad };
          const res = await call(h, "PUT", path, ada, body);
          assert.equal(res.status, 422, `${field}: ${JSON.stringify(bad).slice(0, 60)}`);
          assert.equal(res.body.detail.issues[0].path[0], field);
        }
      }
      const atLimit = { a: { b: { c: 1 } } };
      await putDetails(h, ada, { profile: atLimit, preferences: {} });
      assert.deepEqual((await stored())!.profile, atLimit);
    });

    await t.step("profile_data over 16,000 characters is 422", async () => {
      const res = await call(h, "PUT", path, ada, {
        profile: {},
        preferences: {},
        profile_data: "y".repeat(16_001),
      });
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.detail.issues[0].path, ["profile_data"]);
    });

    await t.step("a body over 1 MiB is 413", async () => {
      const res = await call(h, "PUT", path, ada, {
        profile: { blob: "z".repeat(1024 * 1024 + 10) },
        preferences: {},
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error, "payload_too_large");
    });

    await t.step("profile and preferences are required objects", async () => {
      assert.equal((await call(h, "PUT", path, ada, { profile: {} })).status, 422);
      const notObject = await call(h, "PUT", path, ada, { profile: [1], preferences: {} });
      assert.equal(notObject.status, 422);
    });
  } finally {
    await h.close();
  }
});
