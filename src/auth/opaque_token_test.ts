import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  generateOpaqueToken,
  hashOpaqueToken,
  looksLikeOpaqueToken,
  REFRESH_TOKEN_PREFIX,
  WS_TICKET_PREFIX,
} from "./opaque_token.ts";

Deno.test("opaque tokens", async (t) => {
  await t.step("256 random bits, base64url, optional prefix", () => {
    const plain = generateOpaqueToken();
    assert.match(plain, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(plain, "base64url").length, 32);
    const rt = generateOpaqueToken(REFRESH_TOKEN_PREFIX);
    assert.ok(rt.startsWith("rt_"));
    assert.equal(Buffer.from(rt.slice(3), "base64url").length, 32);
    assert.ok(generateOpaqueToken(WS_TICKET_PREFIX).startsWith("wst_"));
    assert.ok(!rt.includes("."), "never JWT-shaped");
  });

  await t.step("prefix must be lower-case alnum ending in _", () => {
    for (const bad of ["rt", "RT_", "r.t_", "_", "a".repeat(20) + "_"]) {
      assert.throws(() => generateOpaqueToken(bad), TypeError, bad);
    }
  });

  await t.step("unique", () => {
    const tokens = Array.from({ length: 5_000 }, () => generateOpaqueToken("rt_"));
    assert.equal(new Set(tokens).size, tokens.length);
  });

  await t.step("shape check and hashing", () => {
    const rt = generateOpaqueToken("rt_");
    assert.equal(looksLikeOpaqueToken(rt, "rt_"), true);
    assert.equal(looksLikeOpaqueToken(rt, "wst_"), false);
    assert.equal(looksLikeOpaqueToken(rt.slice(0, -1), "rt_"), false);
    assert.equal(looksLikeOpaqueToken(rt.slice(0, -1) + "!", "rt_"), false);
    assert.equal(looksLikeOpaqueToken(42, "rt_"), false);
    assert.match(hashOpaqueToken(rt), /^[0-9a-f]{64}$/);
    assert.equal(hashOpaqueToken(rt), hashOpaqueToken(rt));
    assert.notEqual(hashOpaqueToken(rt), hashOpaqueToken(generateOpaqueToken("rt_")));
  });
});
