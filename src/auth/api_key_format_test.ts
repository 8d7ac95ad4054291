import assert from "node:assert/strict";
import {
  API_KEY_LENGTH,
  API_KEY_SCAN_PATTERN,
  apiKeyChecksum,
  apiKeyStart,
  crc32,
  generateApiKey,
  hashApiKey,
  looksLikeApiKey,
} from "./api_key_format.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

Deno.test("api keys: format and checksum", async (t) => {
  await t.step("format is gate_ + 40 base62 chars with a valid checksum", () => {
    const key = generateApiKey();
    assert.equal(key.length, API_KEY_LENGTH);
    assert.equal(key.length, 45);
    assert.match(key, /^gate_[0-9A-Za-z]{40}$/);
    assert.equal(looksLikeApiKey(key), true);
    assert.equal(key.slice(39), apiKeyChecksum(key.slice(5, 39)));
  });

  await t.step("CRC-32 matches the IEEE check value", () => {
    assert.equal(crc32("123456789"), 0xcbf43926);
    assert.equal(crc32(""), 0);
  });

  await t.step("checksum is CRC-32 in base62, zero-padded to 6", () => {
    const random = "0".repeat(34);
    let n = crc32(random);
    let expected = "";
    for (let i = 0; i < 6; i++) {
      expected = BASE62[n % 62] + expected;
      n = Math.floor(n / 62);
    }
    assert.equal(apiKeyChecksum(random), expected);
    assert.equal(apiKeyChecksum(random).length, 6);
  });

  await t.step("changing any single character makes the checksum fail", () => {
    const key = generateApiKey();
    for (let i = 5; i < key.length; i++) {
      const c = key[i]!;
      const replacement = BASE62[(BASE62.indexOf(c) + 1 + (i % 61)) % 62]!;
      assert.notEqual(replacement, c);
      const flipped = key.slice(0, i) + replacement + key.slice(i + 1);
      assert.equal(looksLikeApiKey(flipped), false, `position ${i}`);
    }
    // Swapping case (a common transcription error) is caught too.
    const swapped = key.slice(0, 5) + key.slice(5).replace(/[a-z]/, (m) => m.toUpperCase());
    if (swapped !== key) assert.equal(looksLikeApiKey(swapped), false);
  });

  await t.step("non-keys are rejected cheaply", () => {
    const key = generateApiKey();
    for (
      const bad of [
        undefined,
        null,
        42,
        "",
        key.slice(0, -1),
        key + "a",
        "GATE_" + key.slice(5),
        "gate-" + key.slice(5),
        key.slice(0, 20) + "-" + key.slice(21),
        ` ${key}`,
      ]
    ) {
      assert.equal(looksLikeApiKey(bad), false, String(bad));
    }
  });

  await t.step("unique and using the whole alphabet", () => {
    const keys = Array.from({ length: 5_000 }, generateApiKey);
    assert.equal(new Set(keys).size, keys.length);
    const seen = new Set(keys.flatMap((k) => [...k.slice(5, 39)]));
    assert.equal(seen.size, 62);
    assert.ok(keys.every(looksLikeApiKey));
  });

  await t.step("hash, display start and scan pattern", () => {
    assert.equal(
      hashApiKey("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const key = generateApiKey();
    assert.match(hashApiKey(key), /^[0-9a-f]{64}$/);
    assert.equal(hashApiKey(key), hashApiKey(key));
    assert.equal(apiKeyStart(key), key.slice(0, 8));
    assert.ok(apiKeyStart(key).startsWith("gate_"));
    const found = `config: token=${key}; other=gate_short`.match(API_KEY_SCAN_PATTERN);
    assert.deepEqual(found, [key]);
  });
});
