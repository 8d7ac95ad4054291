import assert from "node:assert/strict";
import { LuaScriptCompat, sha1Hex, stripUnsupportedShebang } from "./lua_compat.ts";

Deno.test("lua shebang compatibility", async (t) => {
  const body = "\n  local key = KEYS[1]\n  return redis.call('INCR', key)\n";
  const upstashScript = `#!lua flags=allow-key-locking${body}`;

  await t.step("strips Upstash-only flags, keeps line numbering and standard flags", () => {
    assert.equal(stripUnsupportedShebang(upstashScript), body);
    assert.equal(
      stripUnsupportedShebang(`#!lua flags=no-writes,allow-key-locking${body}`),
      `#!lua flags=no-writes${body}`,
    );
    assert.equal(
      stripUnsupportedShebang(`#!lua flags=no-writes${body}`),
      `#!lua flags=no-writes${body}`,
    );
    assert.equal(stripUnsupportedShebang(body), body);
    assert.equal(stripUnsupportedShebang("#!lua flags=allow-key-locking"), "");
  });

  await t.step("EVAL teaches the SHA mapping used by EVALSHA and SCRIPT EXISTS", () => {
    const compat = new LuaScriptCompat();
    const originalSha = sha1Hex(upstashScript);
    // Unknown SHA passes through (Redis will answer NOSCRIPT, the library falls back to EVAL).
    assert.deepEqual(compat.prepare(["evalsha", originalSha, "1", "k"]).args, [
      "evalsha",
      originalSha,
      "1",
      "k",
    ]);
    assert.deepEqual(compat.prepare(["eval", upstashScript, "1", "k"]).args, [
      "eval",
      body,
      "1",
      "k",
    ]);
    assert.deepEqual(compat.prepare(["EVALSHA", originalSha.toUpperCase(), "0"]).args, [
      "EVALSHA",
      sha1Hex(body),
      "0",
    ]);
    assert.deepEqual(compat.prepare(["script", "exists", originalSha, "abc"]).args, [
      "script",
      "exists",
      sha1Hex(body),
      "abc",
    ]);
  });

  await t.step("SCRIPT LOAD returns the caller's SHA, not the rewritten one", () => {
    const compat = new LuaScriptCompat();
    const prepared = compat.prepare(["script", "load", upstashScript]);
    assert.deepEqual(prepared.args, ["script", "load", body]);
    assert.equal(prepared.mapReply(sha1Hex(body)), sha1Hex(upstashScript));
    assert.equal(compat.serverShaFor(sha1Hex(upstashScript)), sha1Hex(body));
  });

  await t.step("other commands are untouched", () => {
    const compat = new LuaScriptCompat();
    assert.deepEqual(compat.prepare(["set", "#!lua flags=allow-key-locking", "1"]).args, [
      "set",
      "#!lua flags=allow-key-locking",
      "1",
    ]);
  });
});
