/**
 * Loads JWT signing/verification keys from settings into an in-memory key
 * ring. Keys come ONLY from local configuration: nothing here (or in jwt.ts)
 * ever fetches keys over the network or trusts keys embedded in a token.
 *
 * Modes (exactly one):
 * - HS256: `secret` (UTF-8, >= 32 bytes) + optional `previousSecrets` still
 *   accepted during rotation. `keyId`, if set, is put in the header.
 * - Asymmetric: `privateKeyPem` (PKCS#8). The algorithm is detected from the
 *   key: P-256 EC → ES256, Ed25519 → EdDSA (anything else is refused). `kid`
 *   is `keyId` or, if absent, the RFC 7638 JWK thumbprint of the public key.
 *   `previousPublicKeysPem` (SPKI, explicit kid) remain valid for verification
 *   during rotation and are published in the JWKS.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, importJWK, importPKCS8 } from "jose";

export interface JwtSettings {
  issuer: string;
  audience: string;
  /** Access-token lifetime, at most 900 s. */
  accessTtlSeconds: number;
  /** HS256 secret, >= 32 bytes of UTF-8. */
  secret?: string;
  previousSecrets?: string[];
  /** PKCS#8 PEM, ES256 (P-256) or EdDSA (Ed25519); alg detected from the key. */
  privateKeyPem?: string;
  keyId?: string;
  /** SPKI PEMs still accepted during rotation. */
  previousPublicKeysPem?: { kid: string; pem: string }[];
}

export type JwtAlgorithm = "HS256" | "ES256" | "EdDSA";
export const MAX_ACCESS_TTL_SECONDS = 900;
export const MIN_HS256_SECRET_BYTES = 32;

/** Public JWK as published at /.well-known/jwks.json (never contains `d`). */
export interface PublicJwk {
  kty: "EC" | "OKP";
  crv: "P-256" | "Ed25519";
  x: string;
  y?: string;
  kid: string;
  alg: "ES256" | "EdDSA";
  use: "sig";
}

export interface VerificationKey {
  kid: string | undefined;
  alg: JwtAlgorithm;
  key: CryptoKey;
}

export interface KeyRing {
  /** Algorithm used for signing new tokens. */
  alg: JwtAlgorithm;
  /** kid written into new tokens (always set for asymmetric keys). */
  kid: string | undefined;
  signingKey: CryptoKey;
  symmetric: boolean;
  /** Asymmetric: every accepted public key by kid (current first). */
  byKid: ReadonlyMap<string, VerificationKey>;
  /** HS256: current secret first, then previous ones. */
  secrets: readonly VerificationKey[];
  /** Algorithms any configured key may verify. */
  algorithms: ReadonlySet<JwtAlgorithm>;
  publicJwks: readonly PublicJwk[];
}

/** Misconfiguration detected at startup; message is safe to log (no key material). */
export class JwtConfigError extends Error {
  override name = "JwtConfigError";
}

const KID_RE = /^[\x21-\x7e]{1,128}$/;

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new JwtConfigError(`${what} must be a non-empty string`);
  }
  return value;
}

function assertKid(kid: unknown, what: string): string {
  if (typeof kid !== "string" || !KID_RE.test(kid)) {
    throw new JwtConfigError(`${what} must be 1-128 printable ASCII characters`);
  }
  return kid;
}

/** Env vars often carry PEMs with literal "\n"; accept both forms. */
function normalizePem(pem: string): string {
  return pem.replace(/\\n/g, "\n").trim() + "\n";
}

function algForKeyObject(key: KeyObject, what: string): "ES256" | "EdDSA" {
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return "ES256";
  }
  const detail = key.asymmetricKeyType === "ec"
    ? `EC curve ${key.asymmetricKeyDetails?.namedCurve}`
    : key.asymmetricKeyType;
  throw new JwtConfigError(`${what}: unsupported key type ${detail} (need P-256 EC or Ed25519)`);
}

/** Detects the JWS algorithm of a PKCS#8 private key PEM. */
export function detectPrivateKeyAlgorithm(pem: string): "ES256" | "EdDSA" {
  return algForKeyObject(parsePrivate(normalizePem(pem), "privateKeyPem"), "privateKeyPem");
}

/** Detects the JWS algorithm of an SPKI public key PEM. */
export function detectPublicKeyAlgorithm(pem: string): "ES256" | "EdDSA" {
  return algForKeyObject(parsePublic(normalizePem(pem), "public key"), "public key");
}

function parsePrivate(pem: string, what: string): KeyObject {
  if (!pem.startsWith("-----BEGIN PRIVATE KEY-----")) {
    throw new JwtConfigError(`${what} must be a PKCS#8 PEM ("BEGIN PRIVATE KEY")`);
  }
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new JwtConfigError(`${what} could not be parsed`);
  }
}

function parsePublic(pem: string, what: string): KeyObject {
  if (!pem.startsWith("-----BEGIN PUBLIC KEY-----")) {
    throw new JwtConfigError(`${what} must be an SPKI PEM ("BEGIN PUBLIC KEY")`);
  }
  try {
    return createPublicKey({ key: pem, format: "pem" });
  } catch {
    throw new JwtConfigError(`${what} could not be parsed`);
  }
}

/** Builds the publishable JWK from scratch so private fields can never leak. */
function publicJwkOf(publicKey: KeyObject, alg: "ES256" | "EdDSA", kid: string): PublicJwk {
  const jwk = publicKey.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new JwtConfigError("could not export public key");
  if (alg === "ES256") {
    if (typeof jwk.y !== "string") throw new JwtConfigError("could not export public key");
    return { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid, alg, use: "sig" };
  }
  return { kty: "OKP", crv: "Ed25519", x: jwk.x, kid, alg, use: "sig" };
}

async function importPublicJwk(jwk: PublicJwk): Promise<CryptoKey> {
  const { kty, crv, x, y } = jwk;
  const key = await importJWK(y === undefined ? { kty, crv, x } : { kty, crv, x, y }, jwk.alg);
  if (!(key instanceof CryptoKey)) throw new JwtConfigError("unexpected public key import result");
  return key;
}

function importHmac(secret: string, what: string): Promise<CryptoKey> {
  if (typeof secret !== "string") throw new JwtConfigError(`${what} must be a string`);
  const bytes = Buffer.from(secret, "utf8");
  if (bytes.length < MIN_HS256_SECRET_BYTES) {
    throw new JwtConfigError(`${what} must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
  }
  // Non-extractable CryptoKey: imported once instead of on every sign/verify.
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/** Validates settings and imports all keys. Throws JwtConfigError on misconfiguration. */
export async function loadKeyRing(settings: JwtSettings): Promise<KeyRing> {
  nonEmpty(settings.issuer, "JWT issuer");
  nonEmpty(settings.audience, "JWT audience");
  const ttl = settings.accessTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_ACCESS_TTL_SECONDS) {
    throw new JwtConfigError(`accessTtlSeconds must be an integer in 1..${MAX_ACCESS_TTL_SECONDS}`);
  }
  const hasSecret = settings.secret !== undefined && settings.secret !== "";
  const hasPem = settings.privateKeyPem !== undefined && settings.privateKeyPem !== "";
  if (hasSecret === hasPem) {
    throw new JwtConfigError("configure exactly one of a JWT secret (HS256) or a private key PEM");
  }
  const keyId = settings.keyId === undefined || settings.keyId === ""
    ? undefined
    : assertKid(settings.keyId, "JWT keyId");

  if (hasSecret) {
    if (settings.previousPublicKeysPem?.length) {
      throw new JwtConfigError("previousPublicKeysPem requires an asymmetric private key");
    }
    const current = await importHmac(settings.secret!, "JWT secret");
    const secrets: VerificationKey[] = [{ kid: keyId, alg: "HS256", key: current }];
    const seen = new Set([settings.secret!]);
    for (const [i, prev] of (settings.previousSecrets ?? []).entries()) {
      if (seen.has(prev)) continue; // duplicate adds nothing but verification work
      seen.add(prev);
      // Previous secrets have no kid of their own (see jwt.ts for selection rules).
      secrets.push({
        kid: undefined,
        alg: "HS256",
        key: await importHmac(prev, `previous JWT secret #${i + 1}`),
      });
    }
    return {
      alg: "HS256",
      kid: keyId,
      signingKey: current,
      symmetric: true,
      byKid: new Map(),
      secrets,
      algorithms: new Set(["HS256"]),
      publicJwks: [],
    };
  }

  if (settings.previousSecrets?.length) {
    throw new JwtConfigError("previousSecrets only apply to HS256");
  }
  const pem = normalizePem(settings.privateKeyPem!);
  const privateKey = parsePrivate(pem, "privateKeyPem");
  const alg = algForKeyObject(privateKey, "privateKeyPem");
  const publicKey = createPublicKey(privateKey);
  const provisional = publicJwkOf(publicKey, alg, "pending");
  const { kid: _pending, alg: _a, use: _u, ...thumbprintInput } = provisional;
  const kid = keyId ?? await calculateJwkThumbprint(thumbprintInput, "sha256");
  const currentJwk = { ...provisional, kid };
  // Non-extractable: the private key cannot be read back out of the CryptoKey.
  const signingKey = await importPKCS8(pem, alg, { extractable: false });

  const byKid = new Map<string, VerificationKey>();
  const publicJwks: PublicJwk[] = [currentJwk];
  byKid.set(kid, { kid, alg, key: await importPublicJwk(currentJwk) });
  for (const [i, prev] of (settings.previousPublicKeysPem ?? []).entries()) {
    const what = `previousPublicKeysPem[${i}]`;
    const prevKid = assertKid(prev?.kid, `${what}.kid`);
    if (byKid.has(prevKid)) throw new JwtConfigError(`${what}: duplicate kid ${prevKid}`);
    const prevKey = parsePublic(normalizePem(nonEmpty(prev.pem, `${what}.pem`)), what);
    const prevAlg = algForKeyObject(prevKey, what);
    const jwk = publicJwkOf(prevKey, prevAlg, prevKid);
    publicJwks.push(jwk);
    byKid.set(prevKid, { kid: prevKid, alg: prevAlg, key: await importPublicJwk(jwk) });
  }
  return {
    alg,
    kid,
    signingKey,
    symmetric: false,
    byKid,
    secrets: [],
    algorithms: new Set([...byKid.values()].map((k) => k.alg)),
    publicJwks,
  };
}
