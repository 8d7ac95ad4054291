import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("request log lines name the principal and key, never their secrets", async (t) => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h, { ip: "192.0.2.70" });
    const key = await createKey(h, user);
    const secrets = [user.password, user.accessToken, user.refreshToken, key.key];

    /** The one request line written for the request with this id. */
    const lineFor = (requestId: string) => {
      const lines = h.log.lines.filter((l) => l.msg === "request" && l.request_id === requestId);
      assert.equal(lines.length, 1, `one request line for ${requestId}`);
      return lines[0]!;
    };

    await t.step("an API key request logs principal_id and api_key_id", async () => {
      const cases: [string, Record<string, string>][] = [
        ["log-key-bearer", { authorization: `Bearer ${key.key}` }],
        ["log-key-header", { "x-api-key": key.key }],
      ];
      for (const [requestId, credential] of cases) {
        const res = await h.request("/v1/auth/whoami", {
          headers: { ...credential, "x-request-id": requestId },
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const line = lineFor(requestId);
        assert.equal(line.route, "/v1/auth/whoami");
        assert.equal(line.status, 200);
        assert.equal(line.principal_id, user.id);
        assert.equal(line.api_key_id, key.id);
      }
    });

    await t.step("a JWT request logs principal_id and no api_key_id", async () => {
      const res = await h.request("/v1/auth/me", {
        headers: { authorization: `Bearer ${user.accessToken}`, "x-request-id": "log-jwt" },
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const line = lineFor("log-jwt");
      assert.equal(line.principal_id, user.id);
      assert.equal(line.api_key_id, undefined);
    });

    await t.step("a refused credential logs no principal and not the credential", async () => {
      const forged = key.key.slice(0, -1) + (key.key.endsWith("A") ? "B" : "A");
      const res = await h.request("/v1/auth/whoami", {
        headers: { authorization: `Bearer ${forged}`, "x-request-id": "log-bad-key" },
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
      const line = lineFor("log-bad-key");
      assert.equal(line.principal_id, undefined);
      assert.doesNotMatch(h.log.text(), new RegExp(forged));
    });

    await t.step("no log line anywhere holds a password, token or key", () => {
      const text = h.log.text();
      for (const secret of secrets) assert.equal(text.includes(secret), false);
      // Not even the key's non-public part: only the 8-character display prefix may appear.
      assert.equal(text.includes(key.key.slice(0, 20)), false);
    });
  } finally {
    await h.close();
  }
});

Deno.test("answered health probes log at debug, failed ones and other routes at info", async () => {
  const h = await startTestApp();
  try {
    const levelOf = async (path: string, requestId: string) => {
      const res = await h.request(path, { headers: { "x-request-id": requestId } });
      await res.body?.cancel();
      const line = h.log.lines.find((l) => l.msg === "request" && l.request_id === requestId);
      assert.ok(line, `a request line for ${path}`);
      return { status: res.status, level: line.level };
    };
    assert.deepEqual(await levelOf("/health/live", "probe-live"), { status: 200, level: "debug" });
    assert.deepEqual(await levelOf("/health/ready", "probe-ready"), {
      status: 200,
      level: "debug",
    });
    assert.deepEqual(await levelOf("/health", "components"), { status: 200, level: "info" });
    h.services.lifecycle.beginDrain();
    assert.deepEqual(await levelOf("/health/ready", "probe-draining"), {
      status: 503,
      level: "info",
    });
  } finally {
    await h.close();
  }
});
