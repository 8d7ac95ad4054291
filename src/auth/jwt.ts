/**
 * Access tokens: short-lived JWTs (RFC 9068 style, `typ: at+jwt`).
 *
 * Verification is deliberately strict:
 * - the token's header is inspected BEFORE any crypto: tokens carrying
 *   jku/jwk/x5u/x5c/crit are rejected outright (we never fetch or trust keys
 *   named by the token), `alg` must be one our configured keys use (so
 *   "none"/"None"/"NONE" and HS/ES confusion fail), `typ` must be at+jwt;
 * - the key is chosen from the LOCAL key ring only, and jose is pinned to
 *   that key's algorithm;
 * - iss, aud, typ, exp/iat/nbf (5 s tolerance, age <= TTL) and the presence
 *   and types of all our claims are checked.
 *
 * Refresh tokens and WS tickets are opaque strings (opaque_token.ts), so they
 * can never pass as access tokens.
 */
import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { isRole, type Role } from "../principal.ts";
import {
  type JwtAlgorithm,
  type JwtSettings,
  type KeyRing,
  loadKeyRing,
  type PublicJwk,
  type VerificationKey,
} from "./signing_keys.ts";

export type { JwtAlgorithm, JwtSettings, PublicJwk } from "./signing_keys.ts";
export { JwtConfigError } from "./signing_keys.ts";

export const ACCESS_TOKEN_TYP = "at+jwt";
export const CLOCK_TOLERANCE_SECONDS = 5;
/** Our tokens are ~400-700 bytes; refuse to parse anything absurd. */
const MAX_TOKEN_LENGTH = 4096;
const REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "jti", "role", "iss", "aud"];
/** Header params that point to or embed keys (or demand extensions) are never honoured. */
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c", "crit"] as const;
const COMPACT_JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AccessTokenInput {
  /** User id (uuid). */
  sub: string;
  /** Session id (uuid); lets the session be revoked server-side. */
  sid: string;
  role: Role;
}

export interface AccessClaims {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  role: Role;
  jti: string;
  iat: number;
  exp: number;
}

export interface SignedAccessToken {
  token: string;
  /** Lifetime in seconds (for `expires_in`). */
  expiresIn: number;
  jti: string;
}

export type InvalidTokenReason =
  | "malformed"
  | "forbidden_header"
  | "alg_not_allowed"
  | "typ"
  | "unknown_kid"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "claims";

/**
 * Thrown for every rejected token. `message` is deliberately generic (safe
 * to return to clients); `reason`/`detail` are for logs and metrics only.
 */
export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
  readonly reason: InvalidTokenReason;
  readonly detail: string;
  constructor(reason: InvalidTokenReason, detail: string, options?: { cause?: unknown }) {
    super("invalid access token", options);
    this.reason = reason;
    this.detail = detail;
  }
}

export interface SelfCheckResult {
  ok: boolean;
  alg: JwtAlgorithm;
  kid?: string;
  /** Internal error description when !ok (never contains key material). */
  error?: string;
}

export interface TokenService {
  readonly alg: JwtAlgorithm;
  /** kid of the current signing key (always set for ES256/EdDSA). */
  readonly kid: string | undefined;
  readonly accessTtlSeconds: number;
  signAccessToken(input: AccessTokenInput): Promise<SignedAccessToken>;
  /** Resolves with validated claims or throws InvalidTokenError. */
  verifyAccessToken(token: string): Promise<AccessClaims>;
  /** Public verification keys (current + previous); empty under HS256. */
  jwks(): { keys: PublicJwk[] };
  /** Signs and verifies a throwaway token; never throws (for health checks). */
  selfCheck(): Promise<SelfCheckResult>;
}

function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_RE.test(value);
}

function mapJoseError(err: unknown): InvalidTokenError {
  if (err instanceof errors.JWTExpired) {
    return new InvalidTokenError("expired", err.message, { cause: err });
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const reason = err.claim === "nbf" ? "not_yet_valid" : err.claim === "typ" ? "typ" : "claims";
    return new InvalidTokenError(reason, err.message, { cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError("signature", err.message, { cause: err });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new InvalidTokenError("alg_not_allowed", err.message, { cause: err });
  }
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : "verification failed";
  return new InvalidTokenError("malformed", detail, { cause: err });
}

function validateClaims(payload: JWTPayload): AccessClaims {
  const { iss, aud, sub, sid, role, jti, iat, exp } = payload as Record<string, unknown>;
  const bad = (what: string) => new InvalidTokenError("claims", `invalid ${what} claim`);
  if (typeof iss !== "string") throw bad("iss");
  if (typeof aud !== "string") throw bad("aud"); // we only ever issue a single audience
  if (!isUuid(sub)) throw bad("sub");
  if (!isUuid(sid)) throw bad("sid");
  if (!isUuid(jti)) throw bad("jti");
  if (!isRole(role)) throw bad("role");
  if (!Number.isSafeInteger(iat)) throw bad("iat");
  if (!Number.isSafeInteger(exp) || (exp as number) <= (iat as number)) throw bad("exp");
  return { iss, aud, sub, sid, role, jti, iat: iat as number, exp: exp as number };
}

function normalizedTyp(typ: unknown): string | undefined {
  if (typeof typ !== "string") return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower;
}

/** Candidate verification keys for a header, from the local ring only. */
function selectKeys(ring: KeyRing, kid: unknown): VerificationKey[] {
  if (kid !== undefined && typeof kid !== "string") {
    throw new InvalidTokenError("malformed", "kid is not a string");
  }
  if (!ring.symmetric) {
    // We put a kid on every asymmetric token; without one there is nothing to pin.
    if (kid === undefined) throw new InvalidTokenError("unknown_kid", "missing kid");
    const key = ring.byKid.get(kid);
    if (!key) throw new InvalidTokenError("unknown_kid", "kid not in local key set");
    return [key];
  }
  // HS256. Only the current secret has a kid (settings.keyId). A matching kid
  // selects it; a different kid may come from a previous keyId, so only
  // previous secrets are tried; no kid → every secret, current first.
  const [current, ...previous] = ring.secrets;
  if (kid === undefined) return [...ring.secrets];
  if (current?.kid !== undefined && kid === current.kid) return [current];
  if (previous.length === 0) throw new InvalidTokenError("unknown_kid", "kid not in local key set");
  return previous;
}

/** Builds the token service; throws JwtConfigError on bad settings. */
export async function createTokenService(settings: JwtSettings): Promise<TokenService> {
  const ring = await loadKeyRing(settings);
  const { issuer, audience, accessTtlSeconds } = settings;

  async function signAccessToken(input: AccessTokenInput): Promise<SignedAccessToken> {
    // Programming errors, not client errors: fail loudly.
    if (!isUuid(input.sub)) throw new TypeError("sub must be a uuid");
    if (!isUuid(input.sid)) throw new TypeError("sid must be a uuid");
    if (!isRole(input.role)) throw new TypeError("invalid role");
    const jti = crypto.randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sid: input.sid, role: input.role })
      .setProtectedHeader(
        ring.kid === undefined
          ? { alg: ring.alg, typ: ACCESS_TOKEN_TYP }
          : { alg: ring.alg, typ: ACCESS_TOKEN_TYP, kid: ring.kid },
      )
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(input.sub)
      .setJti(jti)
      .setIssuedAt(now)
      .setExpirationTime(now + accessTtlSeconds)
      .sign(ring.signingKey);
    return { token, expiresIn: accessTtlSeconds, jti };
  }

  async function verifyAccessToken(token: string): Promise<AccessClaims> {
    if (
      typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS_RE.test(token)
    ) {
      throw new InvalidTokenError("malformed", "not a compact JWS");
    }
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch (err) {
      throw new InvalidTokenError("malformed", "undecodable header", { cause: err });
    }
    for (const name of FORBIDDEN_HEADERS) {
      if (Object.hasOwn(header, name)) {
        throw new InvalidTokenError("forbidden_header", `header "${name}" is not accepted`);
      }
    }
    const alg = header.alg;
    if (typeof alg !== "string" || !ring.algorithms.has(alg as JwtAlgorithm)) {
      throw new InvalidTokenError("alg_not_allowed", `alg ${JSON.stringify(alg)} not allowed`);
    }
    if (normalizedTyp(header.typ) !== ACCESS_TOKEN_TYP) {
      throw new InvalidTokenError("typ", `typ ${JSON.stringify(header.typ)} not accepted`);
    }

    let lastError: unknown;
    for (const key of selectKeys(ring, header.kid)) {
      if (alg !== key.alg) {
        lastError = new InvalidTokenError("alg_not_allowed", "alg does not match the key");
        continue;
      }
      try {
        const { payload } = await jwtVerify(token, key.key, {
          algorithms: [key.alg],
          issuer,
          audience,
          typ: ACCESS_TOKEN_TYP,
          requiredClaims: REQUIRED_CLAIMS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          // Also bounds the lifetime by iat and rejects iat in the future.
          maxTokenAge: accessTtlSeconds,
        });
        return validateClaims(payload);
      } catch (err) {
        // Only a bad signature means "maybe another (previous) key"; claim
        // errors come after a valid signature and are final.
        if (err instanceof errors.JWSSignatureVerificationFailed) {
          lastError = err;
          continue;
        }
        throw err instanceof InvalidTokenError ? err : mapJoseError(err);
      }
    }
    throw lastError instanceof InvalidTokenError ? lastError : mapJoseError(lastError);
  }

  function jwks(): { keys: PublicJwk[] } {
    // Fresh copies so callers cannot mutate the ring's view.
    return { keys: ring.publicJwks.map((k) => ({ ...k })) };
  }

  async function selfCheck(): Promise<SelfCheckResult> {
    const base = { alg: ring.alg, ...(ring.kid === undefined ? {} : { kid: ring.kid }) };
    try {
      const probe = { sub: crypto.randomUUID(), sid: crypto.randomUUID(), role: "user" as const };
      const signed = await signAccessToken(probe);
      const claims = await verifyAccessToken(signed.token);
      if (claims.jti !== signed.jti || claims.sub !== probe.sub) {
        return { ok: false, ...base, error: "round-trip claims mismatch" };
      }
      return { ok: true, ...base };
    } catch (err) {
      const error = err instanceof InvalidTokenError
        ? `${err.reason}: ${err.detail}`
        : err instanceof Error
        ? err.name
        : "unknown error";
      return { ok: false, ...base, error };
    }
  }

  return {
    alg: ring.alg,
    kid: ring.kid,
    accessTtlSeconds,
    signAccessToken,
    verifyAccessToken,
    jwks,
    selfCheck,
  };
}
