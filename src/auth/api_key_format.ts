/**
 * API key format:
 *
 *   gate_<34 random base62 chars><6-char checksum>       (45 chars total)
 *
 * - base62 alphabet: 0-9, A-Z, a-z (in that order).
 * - random part: 34 chars ≈ 202 bits, drawn with crypto.getRandomValues and
 *   rejection sampling (no modulo bias).
 * - checksum: CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320) of the
 *   ASCII bytes of the 34-char random part, written in base62, most
 *   significant digit first, left-padded with "0" to 6 chars
 *   (62^6 > 2^32, so it always fits).
 *
 * The checksum lets secret scanners and our own middleware reject typos and
 * random strings offline, before any DB lookup. It is NOT a security control:
 * keys are authenticated by looking up sha256(key) server-side.
 */
import { createHash } from "node:crypto";

export const API_KEY_PREFIX = "gate_";
const RANDOM_LENGTH = 34;
const CHECKSUM_LENGTH = 6;
export const API_KEY_BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH; // 40
export const API_KEY_LENGTH = API_KEY_PREFIX.length + API_KEY_BODY_LENGTH; // 45
/** Characters shown in UIs/listings to identify a key (e.g. "gate_abc"). */
export const API_KEY_START_LENGTH = 8;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_RE = /^gate_[0-9A-Za-z]{40}$/;
/** For secret scanners: candidate keys inside text. Global (use match/matchAll, not .test()); confirm hits with looksLikeApiKey. */
export const API_KEY_SCAN_PATTERN = /\bgate_[0-9A-Za-z]{40}\b/g;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32/IEEE of an ASCII string. */
export function crc32(ascii: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < ascii.length; i++) {
    crc = CRC_TABLE[(crc ^ ascii.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 6-char checksum for a 34-char random part. */
export function apiKeyChecksum(randomPart: string): string {
  let n = crc32(randomPart);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** Uniform base62 string via rejection sampling (bytes >= 248 are discarded). */
function randomBase62(length: number): string {
  const limit = 248; // largest multiple of 62 that fits in a byte
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array((length - out.length) * 2));
    for (const b of bytes) {
      if (b < limit) {
        out += BASE62[b % 62];
        if (out.length === length) break;
      }
    }
  }
  return out;
}

/** Generates a new API key. Show it to the user once; store only hashApiKey(). */
export function generateApiKey(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return API_KEY_PREFIX + random + apiKeyChecksum(random);
}

/** Cheap offline check: prefix, length, alphabet and checksum. No DB access. */
export function looksLikeApiKey(s: unknown): s is string {
  if (typeof s !== "string" || !KEY_RE.test(s)) return false;
  const body = s.slice(API_KEY_PREFIX.length);
  return apiKeyChecksum(body.slice(0, RANDOM_LENGTH)) === body.slice(RANDOM_LENGTH);
}

/**
 * Lookup hash stored in the DB (hex SHA-256). A fast unsalted hash is fine
 * here: keys carry ~202 bits of entropy, so brute force is not a concern, and
 * it lets us index the column for O(1) lookup.
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Non-secret display prefix, e.g. "gate_abc". */
export function apiKeyStart(key: string): string {
  return key.slice(0, API_KEY_START_LENGTH);
}
