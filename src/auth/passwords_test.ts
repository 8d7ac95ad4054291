import assert from "node:assert/strict";
import {
  checkPasswordPolicy,
  DEFAULT_SCRYPT_PARAMS,
  dummyVerify,
  hashPassword,
  parsePasswordHashParams,
  PasswordHashFormatError,
  passwordLength,
  setPasswordHashConcurrency,
  verifyPassword,
} from "./passwords.ts";
import { isCommonPassword, loadCommonPasswords } from "./common_passwords.ts";

// logN=14 (the floor) keeps the suite fast; one test uses the real default.
const FAST = { logN: 14, r: 8, p: 1 };

Deno.test("passwords: scrypt hashing and verification", async (t) => {
  await t.step("roundtrip and encoded format", async () => {
    const hash = await hashPassword("correct horse battery staple", FAST);
    assert.match(hash, /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.deepEqual(parsePasswordHashParams(hash), FAST);
    assert.deepEqual(await verifyPassword("correct horse battery staple", hash, FAST), {
      ok: true,
      needsRehash: false,
    });
  });

  await t.step("default params are OWASP scrypt (N=2^17, r=8, p=1)", () => {
    assert.deepEqual({ ...DEFAULT_SCRYPT_PARAMS }, { logN: 17, r: 8, p: 1 });
  });

  await t.step("wrong password fails", async () => {
    const hash = await hashPassword("correct horse battery staple", FAST);
    for (const wrong of ["correct horse battery stapl", "Correct horse battery staple", ""]) {
      assert.deepEqual(await verifyPassword(wrong, hash, FAST), { ok: false, needsRehash: false });
    }
  });

  await t.step("random salt: same password hashes differently", async () => {
    const [a, b] = await Promise.all([
      hashPassword("same-password!", FAST),
      hashPassword("same-password!", FAST),
    ]);
    assert.notEqual(a, b);
  });

  await t.step("needsRehash when stored params are weaker than current", async () => {
    const hash = await hashPassword("rehash me please", FAST);
    assert.deepEqual(await verifyPassword("rehash me please", hash, { logN: 15, r: 8, p: 1 }), {
      ok: true,
      needsRehash: true,
    });
    assert.equal(
      (await verifyPassword("rehash me please", hash, { logN: 14, r: 8, p: 2 })).needsRehash,
      true,
    );
    // Stronger stored params than current: no downgrade.
    assert.equal(
      (await verifyPassword("rehash me please", hash, { logN: 14, r: 4, p: 1 })).needsRehash,
      false,
    );
    // Never signal a rehash for a wrong password.
    assert.deepEqual(await verifyPassword("nope nope nope", hash, { logN: 15, r: 8, p: 1 }), {
      ok: false,
      needsRehash: false,
    });
  });

  await t.step("logN < 14 is refused", async () => {
    await assert.rejects(hashPassword("whatever-password", { logN: 13, r: 8, p: 1 }), RangeError);
    await assert.rejects(hashPassword("whatever-password", { logN: 10, r: 8, p: 1 }), RangeError);
    const hash = await hashPassword("whatever-password", FAST);
    await assert.rejects(
      verifyPassword("whatever-password", hash, { logN: 13, r: 8, p: 1 }),
      RangeError,
    );
    // A stored hash below the floor is refused as well.
    const weak = hash.replace("ln=14", "ln=10");
    await assert.rejects(verifyPassword("whatever-password", weak, FAST), PasswordHashFormatError);
  });

  await t.step("malformed stored hashes are rejected with PasswordHashFormatError", async () => {
    const hash = await hashPassword("whatever-password", FAST);
    for (
      const bad of [
        "",
        "plaintext",
        "$2b$10$abcdefghijklmnopqrstuu",
        hash.replace("$scrypt$", "$scrypt2$"),
        hash.replace("ln=14", "ln=31"),
        hash.split("$").slice(0, 4).join("$"),
      ]
    ) {
      await assert.rejects(
        verifyPassword("whatever-password", bad, FAST),
        PasswordHashFormatError,
        bad,
      );
    }
  });

  await t.step("unicode: NFC-normalised, emoji and combining marks", async () => {
    const composed = "caf\u00e9-p\u00e4ssw\u00f6rd";
    const decomposed = "cafe\u0301-pa\u0308sswo\u0308rd";
    const hash = await hashPassword(composed, FAST);
    assert.equal((await verifyPassword(decomposed, hash, FAST)).ok, true);
    const emoji = "🔐🦕🌮🚲🎻🧀🪐🫖";
    const emojiHash = await hashPassword(emoji, FAST);
    assert.equal((await verifyPassword(emoji, emojiHash, FAST)).ok, true);
    assert.equal((await verifyPassword("🔐🦕🌮🚲🎻🧀🪐🫗", emojiHash, FAST)).ok, false);
  });

  await t.step("no truncation: 256-char passwords differing only in the last char", async () => {
    const a = "x".repeat(255) + "a";
    const b = "x".repeat(255) + "b";
    const hash = await hashPassword(a, FAST);
    assert.equal((await verifyPassword(a, hash, FAST)).ok, true);
    assert.equal((await verifyPassword(b, hash, FAST)).ok, false);
    // Same for multi-byte characters (4 bytes each in UTF-8).
    const e1 = "🦕".repeat(255) + "🌮";
    const e2 = "🦕".repeat(255) + "🚲";
    const eHash = await hashPassword(e1, FAST);
    assert.equal((await verifyPassword(e2, eHash, FAST)).ok, false);
  });

  await t.step("oversized input never matches and is not hashed", async () => {
    const huge = "a".repeat(100_000);
    await assert.rejects(hashPassword(huge, FAST), RangeError);
    const hash = await hashPassword("a".repeat(256), FAST);
    assert.deepEqual(await verifyPassword(huge, hash, FAST), { ok: false, needsRehash: false });
  });

  await t.step("dummyVerify always fails and does real work", async () => {
    const t0 = performance.now();
    assert.deepEqual(await dummyVerify("anything at all", FAST), { ok: false, needsRehash: false });
    assert.ok(performance.now() - t0 > 1, "dummyVerify should run scrypt");
    await assert.rejects(dummyVerify("anything at all", { logN: 12, r: 8, p: 1 }), RangeError);
  });

  await t.step("concurrency limit queues instead of failing", async () => {
    setPasswordHashConcurrency(1);
    try {
      const hashes = await Promise.all(
        ["p-one-secret", "p-two-secret", "p-three-secret"].map((p) => hashPassword(p, FAST)),
      );
      assert.equal(new Set(hashes).size, 3);
      assert.equal((await verifyPassword("p-two-secret", hashes[1]!, FAST)).ok, true);
    } finally {
      setPasswordHashConcurrency(4);
    }
    assert.throws(() => setPasswordHashConcurrency(0), RangeError);
  });
});

Deno.test("passwords: async scrypt at logN=17 keeps the event loop ticking", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  let hash: string;
  try {
    hash = await hashPassword("event loop must not block", DEFAULT_SCRYPT_PARAMS);
  } finally {
    clearInterval(timer);
  }
  // With scryptSync the interval could not fire at all until the hash finished.
  assert.ok(ticks >= 2, `expected timer ticks during hashing, got ${ticks}`);
  assert.match(hash, /^\$scrypt\$ln=17,r=8,p=1\$/);
  assert.deepEqual(await verifyPassword("event loop must not block", hash), {
    ok: true,
    needsRehash: false,
  });
});

Deno.test("passwords: policy", async (t) => {
  await t.step("length in code points: 8..256", async () => {
    assert.match((await checkPasswordPolicy("short7!"))!, /at least 8/);
    assert.equal(await checkPasswordPolicy("tr0ub4dor&3x"), null);
    assert.equal(await checkPasswordPolicy("q".repeat(255) + "z"), null);
    assert.match((await checkPasswordPolicy("q".repeat(256) + "z"))!, /at most 256/);
    // 8 emoji are 16 UTF-16 units but 8 characters.
    assert.equal(passwordLength("🦕".repeat(8)), 8);
    assert.equal(await checkPasswordPolicy("🦕🌮🚲🎻🧀🪐🫖🔐"), null);
    assert.match((await checkPasswordPolicy("🦕🌮🚲🎻🧀🪐🫖"))!, /at least 8/);
    assert.equal(await checkPasswordPolicy("🦕".repeat(256)), null);
    assert.match((await checkPasswordPolicy("🦕".repeat(257)))!, /at most 256/);
    // Combining sequences count after NFC (e + U+0301 → é).
    assert.equal(passwordLength("e\u0301".repeat(8)), 8);
  });

  await t.step("no composition rules", async () => {
    assert.equal(await checkPasswordPolicy("all lower case words here"), null);
    assert.equal(await checkPasswordPolicy("8472916350284716"), null);
  });

  await t.step("common passwords refused, case-insensitively", async () => {
    for (
      const pw of [
        "password",
        "PASSWORD",
        "Password",
        "12345678",
        "qwertyuiop",
        "iloveyou",
        "baseball",
      ]
    ) {
      assert.match((await checkPasswordPolicy(pw))!, /too common/, pw);
    }
    assert.equal(await isCommonPassword("PassWord"), true);
    assert.equal(await isCommonPassword("tr0ub4dor&3x-unlikely"), false);
    const set = await loadCommonPasswords();
    assert.ok(set.size > 10_000, `expected a large list, got ${set.size}`);
    assert.equal(await loadCommonPasswords(), set, "list is loaded once and cached");
  });

  await t.step("email, local part and display name refused", async () => {
    const ctx = { email: "Alice.Smith@Example.com", displayName: "Alice Smithers" };
    assert.match((await checkPasswordPolicy("alice.smith@example.com", ctx))!, /email/);
    assert.match((await checkPasswordPolicy("ALICE.SMITH", ctx))!, /email/);
    assert.match((await checkPasswordPolicy("alice smithers", ctx))!, /name/);
    assert.equal(await checkPasswordPolicy("alice.smith-2024-river", ctx), null);
  });
});
