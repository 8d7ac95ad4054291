/**
 * Opaque bearer secrets (refresh tokens, WebSocket tickets, ...).
 *
 * Format: `<prefix><base64url of 32 random bytes>` (43 chars, 256 bits). They
 * are deliberately NOT JWTs: they carry no claims, are validated only by
 * looking up sha256(token) server-side (so they can be revoked/rotated), and
 * can never be mistaken for an access token (no "." separators).
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

export const OPAQUE_TOKEN_BYTES = 32;
const ENCODED_LENGTH = 43; // ceil(32 * 4 / 3), unpadded
const PREFIX_RE = /^[a-z][a-z0-9]{0,15}_$/;
const BODY_RE = /^[A-Za-z0-9_-]{43}$/;

/** Conventional prefixes so leaked tokens are recognisable in logs/scanners. */
export const REFRESH_TOKEN_PREFIX = "rt_";
export const WS_TICKET_PREFIX = "wst_";

function assertPrefix(prefix: string): void {
  if (prefix !== "" && !PREFIX_RE.test(prefix)) {
    throw new TypeError(`invalid token prefix ${JSON.stringify(prefix)} (expected e.g. "rt_")`);
  }
}

/** New random token; `prefix` is "" or lower-case alnum ending in "_" (e.g. "rt_"). */
export function generateOpaqueToken(prefix = ""): string {
  assertPrefix(prefix);
  const bytes = crypto.getRandomValues(new Uint8Array(OPAQUE_TOKEN_BYTES));
  return prefix + Buffer.from(bytes).toString("base64url");
}

/** Cheap shape check before hitting the DB. */
export function looksLikeOpaqueToken(token: unknown, prefix = ""): token is string {
  assertPrefix(prefix);
  return typeof token === "string" &&
    token.length === prefix.length + ENCODED_LENGTH &&
    token.startsWith(prefix) &&
    BODY_RE.test(token.slice(prefix.length));
}

/** Hex SHA-256 used as the DB lookup key; the raw token is never stored. */
export function hashOpaqueToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
