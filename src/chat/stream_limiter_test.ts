import assert from "node:assert/strict";
import type { Principal } from "../principal.ts";
import { StreamLimiter } from "./stream_limiter.ts";
import { ApiError } from "../errors.ts";

Deno.test("stream limiter: per user across sessions and keys, released once", () => {
  const limiter = new StreamLimiter(2);
  const user: Principal = { type: "user", userId: "u1", role: "user", tier: "free", scopes: [] };
  const key: Principal = { ...user, type: "api_key", apiKeyId: "k1" };
  const a = limiter.acquire(user);
  limiter.acquire(key);
  for (const caller of [user, key]) {
    assert.throws(() => limiter.acquire(caller), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 429);
      assert.equal(error.headers?.["Retry-After"], "1");
      assert.equal(error.detail?.scope, "user");
      return true;
    });
  }
  limiter.acquire({ ...user, userId: "u2" }); // another user is unaffected
  a();
  a();
  assert.equal(limiter.openFor(user), 1);
  limiter.acquire(user);
  assert.equal(limiter.openFor(key), 2);
});
