/**
 * Password hashing (scrypt) and password policy.
 *
 * Encoded form (PHC-like, params travel with the hash so they can be raised
 * later without breaking existing users):
 *
 *   $scrypt$ln=17,r=8,p=1$<salt: 16 bytes, std base64 unpadded>$<key: 32 bytes, std base64 unpadded>
 *
 * Input handling: passwords are NFC-normalised before hashing/verifying, so
 * "é" typed as one code point or as "e" + U+0301 is the same password. Nothing
 * is ever truncated (scrypt's PBKDF2 front-end accepts arbitrary lengths); the
 * policy limits length to 8..256 Unicode code points, and a hard byte cap
 * protects the hashing path itself from absurd inputs.
 */
import { Buffer } from "node:buffer";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";
import { isCommonPassword } from "./common_passwords.ts";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** OWASP Password Storage Cheat Sheet recommendation for scrypt. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  logN: 17,
  r: 8,
  p: 1,
});

/** The parameters new hashes get: the configured cost, OWASP's block size and parallelism. */
export function scryptParams(config: Pick<Config, "PASSWORD_SCRYPT_LOG_N">): ScryptParams {
  return { logN: config.PASSWORD_SCRYPT_LOG_N, r: 8, p: 1 };
}

/** Anything weaker is refused outright (both for new hashes and stored ones). */
export const MIN_SCRYPT_LOG_N = 14;
/** Upper bounds keep a corrupted/hostile stored hash from exhausting memory. */
const MAX_SCRYPT_LOG_N = 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;
/** scrypt's V array is 128*N*r bytes; 1 GiB is already far beyond sane. */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/** 256 code points are at most 1024 UTF-8 bytes; anything past 4 KiB is junk. */
export const PASSWORD_MAX_INPUT_BYTES = 4096;

const SALT_BYTES = 16;
const KEY_BYTES = 32;

export interface VerifyResult {
  ok: boolean;
  /** True only when ok and the stored params are weaker than the current ones. */
  needsRehash: boolean;
}

/** A stored hash string that cannot be parsed or uses refused parameters. */
export class PasswordHashFormatError extends Error {
  override name = "PasswordHashFormatError";
}

// ---------------------------------------------------------------------------
// Concurrency limit. Each logN=17,r=8 derivation allocates 128 MiB and Deno
// runs async scrypt on its (large) blocking thread pool, so without a cap a
// burst of logins could allocate gigabytes. Excess requests queue instead.

// One core is left to the event loop: on a 2-core machine two parallel
// derivations starve it and request latency jumps (measured by `deno task bench`).
let maxConcurrent = Math.max(1, Math.min(8, (globalThis.navigator?.hardwareConcurrency ?? 4) - 1));
let active = 0;
const waiters: (() => void)[] = [];

/** Tune how many scrypt derivations may run at once (default: CPUs - 1, 1..8). */
export function setPasswordHashConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("concurrency must be an integer >= 1");
  maxConcurrent = n;
  while (active < maxConcurrent && waiters.length > 0) {
    active++;
    waiters.shift()!();
  }
}

async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (active < maxConcurrent) {
    active++;
  } else {
    // The releasing task hands its slot over directly (active stays the same).
    await new Promise<void>((resolve) => waiters.push(resolve));
  }
  try {
    return await fn();
  } finally {
    const next = waiters.shift();
    if (next) next();
    else active--;
  }
}

// ---------------------------------------------------------------------------

function assertParams(params: ScryptParams): void {
  const { logN, r, p } = params;
  if (!Number.isInteger(logN) || !Number.isInteger(r) || !Number.isInteger(p)) {
    throw new RangeError("scrypt params must be integers");
  }
  if (logN < MIN_SCRYPT_LOG_N) {
    throw new RangeError(`scrypt logN must be >= ${MIN_SCRYPT_LOG_N} (got ${logN})`);
  }
  if (logN > MAX_SCRYPT_LOG_N || r < 1 || r > MAX_SCRYPT_R || p < 1 || p > MAX_SCRYPT_P) {
    throw new RangeError(`scrypt params out of range (ln=${logN},r=${r},p=${p})`);
  }
  if (128 * 2 ** logN * r > MAX_SCRYPT_MEMORY) {
    throw new RangeError("scrypt params exceed the memory cap");
  }
}

/** Async scrypt: runs off the event loop (never scryptSync). */
function deriveKey(
  password: string,
  salt: Uint8Array,
  keyLength: number,
  params: ScryptParams,
): Promise<Buffer> {
  const N = 2 ** params.logN;
  // Node refuses when 128*N*r exceeds maxmem (default 32 MiB); give 2x headroom.
  const maxmem = 128 * N * params.r * 2 + 128 * params.r * params.p;
  return withSlot(() =>
    new Promise<Buffer>((resolve, reject) => {
      scrypt(
        password,
        salt,
        keyLength,
        { N, r: params.r, p: params.p, maxmem },
        (err, key) => (err ? reject(err) : resolve(key)),
      );
    })
  );
}

function normalizeInput(password: string): string | null {
  if (typeof password !== "string") return null;
  const normalized = password.normalize("NFC");
  if (Buffer.byteLength(normalized, "utf8") > PASSWORD_MAX_INPUT_BYTES) return null;
  return normalized;
}

/**
 * A full-length key of `password` under `params` (checked first: RangeError when refused),
 * as a new hash or the dummy check derive it; null for input no password can be (oversized).
 */
async function deriveWithParams(
  password: string,
  salt: Uint8Array,
  params: ScryptParams,
): Promise<Buffer | null> {
  assertParams(params);
  const normalized = normalizeInput(password);
  if (normalized === null) return null;
  return await deriveKey(normalized, salt, KEY_BYTES, params);
}

function b64(buf: Uint8Array): string {
  return Buffer.from(buf).toString("base64").replace(/=+$/, "");
}

const ENCODED_RE =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parseEncoded(encoded: string): ParsedHash {
  const m = typeof encoded === "string" ? ENCODED_RE.exec(encoded) : null;
  if (!m) throw new PasswordHashFormatError("unrecognised password hash format");
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  try {
    assertParams(params);
  } catch (err) {
    throw new PasswordHashFormatError(`stored hash refused: ${(err as Error).message}`);
  }
  const salt = Buffer.from(m[4]!, "base64");
  const key = Buffer.from(m[5]!, "base64");
  if (salt.length < SALT_BYTES || key.length < 16 || key.length > 64) {
    throw new PasswordHashFormatError("stored hash has invalid salt/key length");
  }
  return { params, salt, key };
}

/** Parses just the params of a stored hash (e.g. for metrics/migrations). */
export function parsePasswordHashParams(encoded: string): ScryptParams {
  return parseEncoded(encoded).params;
}

/**
 * Hashes a password with a fresh 16-byte salt. Throws RangeError for params
 * below the floor (logN < 14) or an oversized input.
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveWithParams(password, salt, params);
  if (key === null) throw new RangeError("password is not a string or is too large");
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

function weakerThan(stored: ScryptParams, current: ScryptParams): boolean {
  return stored.logN < current.logN || stored.r < current.r || stored.p < current.p;
}

/**
 * Constant-time verification against a stored hash. Throws
 * PasswordHashFormatError for an unparsable/refused stored hash (a data
 * problem, not a wrong password) and RangeError for bad `current` params.
 */
export async function verifyPassword(
  password: string,
  encoded: string,
  current: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<VerifyResult> {
  assertParams(current);
  const stored = parseEncoded(encoded);
  const normalized = normalizeInput(password);
  // Oversized input can never match a policy-conforming password. Length is
  // attacker-chosen, so short-circuiting leaks nothing (dummyVerify does the same).
  if (normalized === null) return { ok: false, needsRehash: false };
  const candidate = await deriveKey(normalized, stored.salt, stored.key.length, stored.params);
  const ok = timingSafeEqual(candidate, stored.key);
  return {
    ok,
    needsRehash: ok && (weakerThan(stored.params, current) || stored.key.length < KEY_BYTES),
  };
}

// Per-process random salt/target: the dummy can never match anything.
const DUMMY_SALT = randomBytes(SALT_BYTES);
const DUMMY_KEY = randomBytes(KEY_BYTES);

/**
 * Burns the same work as verifyPassword() with `current` params and always
 * fails. Use it when the account does not exist so that response time does not
 * reveal which e-mails are registered:
 *
 *   const res = user ? await verifyPassword(pw, user.hash, p) : await dummyVerify(pw, p);
 */
export async function dummyVerify(
  password: string,
  current: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<VerifyResult> {
  const candidate = await deriveWithParams(password, DUMMY_SALT, current);
  if (candidate !== null) timingSafeEqual(candidate, DUMMY_KEY);
  return { ok: false, needsRehash: false };
}

// ---------------------------------------------------------------------------
// Policy (NIST SP 800-63B style: length + blocklist, no composition rules).

export interface PasswordPolicyContext {
  email?: string | null;
  displayName?: string | null;
}

/** Length in Unicode code points (not UTF-16 units) of the NFC form. */
export function passwordLength(password: string): number {
  let n = 0;
  for (const _ of password.normalize("NFC")) n++;
  return n;
}

/**
 * Returns null when acceptable, otherwise a user-facing message. Async
 * because the common-password list is loaded lazily on first use.
 */
export async function checkPasswordPolicy(
  password: string,
  context: PasswordPolicyContext = {},
): Promise<string | null> {
  if (typeof password !== "string") return "Password is required.";
  const length = passwordLength(password);
  if (length < PASSWORD_MIN_LENGTH) {
    return `Password must be at least ${PASSWORD_MIN_LENGTH} characters.`;
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return `Password must be at most ${PASSWORD_MAX_LENGTH} characters.`;
  }
  const folded = password.normalize("NFC").toLowerCase();
  const email = context.email?.normalize("NFC").trim().toLowerCase();
  if (email) {
    const at = email.lastIndexOf("@");
    const local = at > 0 ? email.slice(0, at) : email;
    if (folded === email || folded === local) {
      return "Password must not be your email address.";
    }
  }
  const name = context.displayName?.normalize("NFC").trim().toLowerCase();
  if (name && folded === name) return "Password must not be your name.";
  if (await isCommonPassword(password)) {
    return "This password is too common. Please choose a less predictable one.";
  }
  return null;
}
