import assert from "node:assert/strict";
import {
  base64url,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JWTHeaderParameters,
  SignJWT,
} from "jose";
import {
  type AccessClaims,
  createTokenService,
  InvalidTokenError,
  type InvalidTokenReason,
  JwtConfigError,
  type JwtSettings,
  type TokenService,
} from "./jwt.ts";
import { generateOpaqueToken } from "./opaque_token.ts";

const ISS = "https://gatehouse.test";
const AUD = "gatehouse-api";
const TTL = 300;
const base = { issuer: ISS, audience: AUD, accessTtlSeconds: TTL } satisfies Partial<JwtSettings>;
const enc = new TextEncoder();

function randomSecret(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(48)));
}

async function keyPair(alg: "ES256" | "EdDSA") {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    privateKey,
    publicKey,
    pkcs8: await exportPKCS8(privateKey),
    spki: await exportSPKI(publicKey),
  };
}

const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const t = now();
  const c: Record<string, unknown> = {
    iss: ISS,
    aud: AUD,
    sub: crypto.randomUUID(),
    sid: crypto.randomUUID(),
    role: "user",
    jti: crypto.randomUUID(),
    iat: t,
    exp: t + TTL,
    ...overrides,
  };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
}

function craft(
  key: CryptoKey | Uint8Array,
  header: JWTHeaderParameters,
  payload: Record<string, unknown> = claims(),
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

function b64json(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Raw HS256 signing with the test secret, bypassing jose's header validation. */
async function hmacToken(header: Record<string, unknown>, payload: Record<string, unknown>) {
  const signingInput = `${b64json(header)}.${b64json(payload)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    hsKey,
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(signingInput));
  return `${signingInput}.${base64url.encode(new Uint8Array(sig))}`;
}

async function assertRejected(svc: TokenService, token: string, reason?: InvalidTokenReason) {
  await assert.rejects(svc.verifyAccessToken(token), (err: unknown) => {
    assert.ok(err instanceof InvalidTokenError, `expected InvalidTokenError, got ${err}`);
    // Nothing specific reaches the client.
    assert.equal(err.message, "invalid access token");
    if (reason) assert.equal(err.reason, reason, err.detail);
    return true;
  });
}

const input = () => ({
  sub: crypto.randomUUID(),
  sid: crypto.randomUUID(),
  role: "admin" as const,
});

async function assertRoundTrip(svc: TokenService): Promise<AccessClaims> {
  const i = input();
  const signed = await svc.signAccessToken(i);
  assert.equal(signed.expiresIn, TTL);
  const c = await svc.verifyAccessToken(signed.token);
  assert.equal(c.sub, i.sub);
  assert.equal(c.sid, i.sid);
  assert.equal(c.role, "admin");
  assert.equal(c.jti, signed.jti);
  assert.equal(c.iss, ISS);
  assert.equal(c.aud, AUD);
  assert.equal(c.exp - c.iat, TTL);
  return c;
}

// Setup shared by the suites (key generation is the slow part).
const SECRET = randomSecret();
const es = await keyPair("ES256");
const ed = await keyPair("EdDSA");
const hs = await createTokenService({ ...base, secret: SECRET });
const hsKey = enc.encode(SECRET);
const esSvc = await createTokenService({ ...base, privateKeyPem: es.pkcs8, keyId: "es-1" });
const edSvc = await createTokenService({ ...base, privateKeyPem: ed.pkcs8 });

Deno.test("jwt: valid tokens are accepted", async (t) => {
  await t.step("HS256", async () => {
    assert.equal(hs.alg, "HS256");
    const signed = await hs.signAccessToken(input());
    assert.deepEqual(decodeProtectedHeader(signed.token), { alg: "HS256", typ: "at+jwt" });
    await assertRoundTrip(hs);
  });

  await t.step("HS256 with keyId puts kid in the header", async () => {
    const svc = await createTokenService({ ...base, secret: SECRET, keyId: "hs-2024" });
    const signed = await svc.signAccessToken(input());
    assert.deepEqual(decodeProtectedHeader(signed.token), {
      alg: "HS256",
      typ: "at+jwt",
      kid: "hs-2024",
    });
    await assertRoundTrip(svc);
  });

  await t.step("ES256 (alg detected from key, kid always set)", async () => {
    assert.equal(esSvc.alg, "ES256");
    const signed = await esSvc.signAccessToken(input());
    assert.deepEqual(decodeProtectedHeader(signed.token), {
      alg: "ES256",
      typ: "at+jwt",
      kid: "es-1",
    });
    await assertRoundTrip(esSvc);
  });

  await t.step("EdDSA (kid defaults to the JWK thumbprint)", async () => {
    assert.equal(edSvc.alg, "EdDSA");
    assert.match(edSvc.kid!, /^[A-Za-z0-9_-]{43}$/);
    const signed = await edSvc.signAccessToken(input());
    assert.deepEqual(decodeProtectedHeader(signed.token), {
      alg: "EdDSA",
      typ: "at+jwt",
      kid: edSvc.kid,
    });
    await assertRoundTrip(edSvc);
  });

  await t.step("externally crafted token with exactly the right shape", async () => {
    const c = claims({ role: "moderator" });
    const claimsOut = await esSvc.verifyAccessToken(
      await craft(es.privateKey, { alg: "ES256", typ: "at+jwt", kid: "es-1" }, c),
    );
    assert.deepEqual(claimsOut, c);
    // "application/at+jwt" is the same media type.
    await esSvc.verifyAccessToken(
      await craft(es.privateKey, { alg: "ES256", typ: "application/at+jwt", kid: "es-1" }),
    );
    // Small clock skew is tolerated.
    await hs.verifyAccessToken(
      await craft(hsKey, { alg: "HS256", typ: "at+jwt" }, claims({ iat: now() + 3 })),
    );
  });

  await t.step("selfCheck", async () => {
    for (const svc of [hs, esSvc, edSvc]) {
      const r = await svc.selfCheck();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.alg, svc.alg);
    }
  });
});

Deno.test("jwt: key rotation", async (t) => {
  await t.step("HS256 previous secret still accepted, dropped secret rejected", async () => {
    const oldSecret = randomSecret();
    const oldSvc = await createTokenService({ ...base, secret: oldSecret });
    const token = (await oldSvc.signAccessToken(input())).token;
    const rotated = await createTokenService({
      ...base,
      secret: SECRET,
      previousSecrets: [oldSecret],
    });
    await rotated.verifyAccessToken(token);
    await assertRoundTrip(rotated); // new tokens use the new secret
    await assertRejected(hs, token, "signature");
  });

  await t.step("HS256 previous secret that had its own keyId", async () => {
    const oldSecret = randomSecret();
    const oldSvc = await createTokenService({ ...base, secret: oldSecret, keyId: "hs-old" });
    const token = (await oldSvc.signAccessToken(input())).token;
    const rotated = await createTokenService({
      ...base,
      secret: SECRET,
      keyId: "hs-new",
      previousSecrets: [oldSecret],
    });
    await rotated.verifyAccessToken(token);
    // A token claiming the current kid is only checked against the current secret.
    const forged = await craft(enc.encode(oldSecret), {
      alg: "HS256",
      typ: "at+jwt",
      kid: "hs-new",
    });
    await assertRejected(rotated, forged, "signature");
  });

  await t.step("ES256 → EdDSA: previous public key accepted and published", async () => {
    const oldToken = (await esSvc.signAccessToken(input())).token;
    const rotated = await createTokenService({
      ...base,
      privateKeyPem: ed.pkcs8,
      keyId: "ed-2",
      previousPublicKeysPem: [{ kid: "es-1", pem: es.spki }],
    });
    const c = await rotated.verifyAccessToken(oldToken);
    assert.equal(c.role, "admin");
    await assertRoundTrip(rotated);
    assert.deepEqual(rotated.jwks().keys.map((k) => [k.kid, k.alg]), [["ed-2", "EdDSA"], [
      "es-1",
      "ES256",
    ]]);
    // Once the old key is removed, its tokens stop working.
    const after = await createTokenService({ ...base, privateKeyPem: ed.pkcs8, keyId: "ed-2" });
    // ES256 is no longer a configured algorithm at all, so it fails before kid lookup.
    await assertRejected(after, oldToken, "alg_not_allowed");
  });
});

Deno.test("jwt: jwks publishes public keys only", async (t) => {
  await t.step("HS256 → empty", () => {
    assert.deepEqual(hs.jwks(), { keys: [] });
  });

  await t.step("ES256 / EdDSA → public params with kid, alg, use", async () => {
    const esJwk = esSvc.jwks().keys;
    assert.equal(esJwk.length, 1);
    const pub = await exportJWK(es.publicKey);
    assert.deepEqual(esJwk[0], {
      kty: "EC",
      crv: "P-256",
      x: pub.x,
      y: pub.y,
      kid: "es-1",
      alg: "ES256",
      use: "sig",
    });
    const edJwk = edSvc.jwks().keys;
    assert.deepEqual(Object.keys(edJwk[0]!).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
    assert.equal(edJwk[0]!.x, (await exportJWK(ed.publicKey)).x);
    for (const k of [...esJwk, ...edJwk]) {
      assert.ok(!("d" in k), "private component must never be published");
      assert.equal(k.use, "sig");
    }
    // Returned objects are copies.
    esSvc.jwks().keys[0]!.kid = "mutated";
    assert.equal(esSvc.jwks().keys[0]!.kid, "es-1");
  });
});

Deno.test("jwt: hostile and invalid tokens are rejected", async (t) => {
  await t.step('alg "none" in any case', async () => {
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      for (const [svc, kid] of [[hs, undefined], [esSvc, "es-1"], [edSvc, edSvc.kid]] as const) {
        const header = kid ? { alg, typ: "at+jwt", kid } : { alg, typ: "at+jwt" };
        const unsigned = `${b64json(header)}.${b64json(claims())}.`;
        await assertRejected(svc, unsigned, "malformed");
        // Even with a bogus signature segment, the alg is refused before crypto.
        await assertRejected(svc, unsigned + "c2ln", "alg_not_allowed");
      }
    }
  });

  await t.step("HS/ES confusion: HS256 signed with the public key as the secret", async () => {
    for (const secret of [es.spki, JSON.stringify(await exportJWK(es.publicKey))]) {
      const forged = await craft(enc.encode(secret), { alg: "HS256", typ: "at+jwt", kid: "es-1" });
      await assertRejected(esSvc, forged, "alg_not_allowed");
    }
    // And the reverse: an ES256 token against an HS256 service.
    await assertRejected(
      hs,
      await craft(es.privateKey, { alg: "ES256", typ: "at+jwt" }),
      "alg_not_allowed",
    );
    // Right family, wrong key type for this kid: an EdDSA token claiming the ES kid.
    await assertRejected(
      esSvc,
      await craft(ed.privateKey, { alg: "EdDSA", typ: "at+jwt", kid: "es-1" }),
      "alg_not_allowed",
    );
  });

  await t.step("tampered payload / header / signature", async () => {
    for (const svc of [hs, esSvc, edSvc]) {
      const token = (await svc.signAccessToken({ ...input(), role: "user" })).token;
      const [h, p, s] = token.split(".") as [string, string, string];
      const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
      await assertRejected(svc, `${h}.${b64json({ ...payload, role: "admin" })}.${s}`, "signature");
      const header = JSON.parse(new TextDecoder().decode(base64url.decode(h)));
      await assertRejected(svc, `${b64json({ ...header, extra: 1 })}.${p}.${s}`, "signature");
      const sig = base64url.decode(s);
      sig[0]! ^= 1;
      await assertRejected(svc, `${h}.${p}.${base64url.encode(sig)}`, "signature");
    }
  });

  await t.step("token signed by a different secret / key", async () => {
    await assertRejected(
      hs,
      await craft(enc.encode(randomSecret()), { alg: "HS256", typ: "at+jwt" }),
      "signature",
    );
    const other = await keyPair("ES256");
    await assertRejected(
      esSvc,
      await craft(other.privateKey, { alg: "ES256", typ: "at+jwt", kid: "es-1" }),
      "signature",
    );
  });

  await t.step("unknown or missing kid", async () => {
    await assertRejected(
      esSvc,
      await craft(es.privateKey, { alg: "ES256", typ: "at+jwt", kid: "es-2" }),
      "unknown_kid",
    );
    await assertRejected(
      esSvc,
      await craft(es.privateKey, { alg: "ES256", typ: "at+jwt" }),
      "unknown_kid",
    );
    const hsKid = await createTokenService({ ...base, secret: SECRET, keyId: "hs-1" });
    await assertRejected(
      hsKid,
      await craft(hsKey, { alg: "HS256", typ: "at+jwt", kid: "nope" }),
      "unknown_kid",
    );
  });

  await t.step("claims: missing exp, expired, nbf in future, iat in future", async () => {
    const h = { alg: "HS256", typ: "at+jwt" };
    await assertRejected(hs, await craft(hsKey, h, claims({ exp: undefined })), "claims");
    await assertRejected(
      hs,
      await craft(hsKey, h, claims({ iat: now() - 400, exp: now() - 60 })),
      "expired",
    );
    await assertRejected(hs, await craft(hsKey, h, claims({ nbf: now() + 120 })), "not_yet_valid");
    await assertRejected(
      hs,
      await craft(hsKey, h, claims({ iat: now() + 120, exp: now() + 300 })),
      "claims",
    );
    // Lifetime longer than the configured TTL (old iat, far exp).
    await assertRejected(
      hs,
      await craft(hsKey, h, claims({ iat: now() - 3600, exp: now() + 3600 })),
      "expired",
    );
  });

  await t.step("claims: wrong iss / aud, missing or invalid sid, sub, role, jti", async () => {
    const h = { alg: "HS256", typ: "at+jwt" };
    const cases: Record<string, unknown>[] = [
      { iss: "https://evil.test" },
      { iss: undefined },
      { aud: "other-api" },
      { aud: undefined },
      { aud: [AUD, "other-api"] },
      { sid: undefined },
      { sid: "not-a-uuid" },
      { sid: 12 },
      { sub: undefined },
      { sub: "admin" },
      { role: "superuser" },
      { role: undefined },
      { jti: undefined },
      { iat: undefined },
    ];
    for (const c of cases) {
      await assertRejected(hs, await craft(hsKey, h, claims(c)), "claims");
    }
  });

  await t.step('typ must be "at+jwt"', async () => {
    for (const typ of ["JWT", "jwt", "rt+jwt", "application/jwt", undefined]) {
      const header = typ === undefined
        ? { alg: "ES256", kid: "es-1" }
        : { alg: "ES256", typ, kid: "es-1" };
      await assertRejected(esSvc, await craft(es.privateKey, header), "typ");
    }
  });

  await t.step("jku / jwk / x5u / x5c headers rejected without any network access", async () => {
    let hits = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      hits++;
      return Response.json({ keys: [] });
    });
    const realFetch = globalThis.fetch;
    let fetches = 0;
    globalThis.fetch = (...args: Parameters<typeof fetch>) => {
      fetches++;
      return realFetch(...args);
    };
    try {
      const url = `http://127.0.0.1:${server.addr.port}/jwks.json`;
      const attacker = await keyPair("ES256");
      const attackerJwk = await exportJWK(attacker.publicKey);
      const headers: JWTHeaderParameters[] = [
        { alg: "ES256", typ: "at+jwt", kid: "es-1", jku: url },
        { alg: "ES256", typ: "at+jwt", kid: "es-1", x5u: url },
        { alg: "ES256", typ: "at+jwt", kid: "es-1", jwk: attackerJwk },
        { alg: "ES256", typ: "at+jwt", kid: "evil", jwk: attackerJwk },
        { alg: "ES256", typ: "at+jwt", kid: "es-1", x5c: ["MIIB"] },
      ];
      for (const header of headers) {
        await assertRejected(esSvc, await craft(attacker.privateKey, header), "forbidden_header");
        // Even when validly signed by our own key, such headers are refused outright.
        await assertRejected(esSvc, await craft(es.privateKey, header), "forbidden_header");
      }
      await assertRejected(
        hs,
        await craft(hsKey, { alg: "HS256", typ: "at+jwt", jku: url }),
        "forbidden_header",
      );
      await assertRejected(
        hs,
        // jose refuses to *sign* unknown crit params, so this one is built by hand.
        await hmacToken({ alg: "HS256", typ: "at+jwt", crit: ["exp"], exp: 1 }, claims()),
        "forbidden_header",
      );
    } finally {
      globalThis.fetch = realFetch;
      await server.shutdown();
    }
    assert.equal(hits, 0, "the jku/x5u server must never be contacted");
    assert.equal(fetches, 0, "no fetch during verification");
  });

  await t.step("refresh tokens and garbage are not access tokens", async () => {
    for (
      const junk of [
        generateOpaqueToken("rt_"),
        generateOpaqueToken(),
        "",
        "a.b",
        "a.b.c.d.e",
        "Bearer x.y.z",
        "x".repeat(5000),
        `${b64json([1])}.${b64json(claims())}.c2ln`,
      ]
    ) {
      await assertRejected(hs, junk, "malformed");
      await assertRejected(esSvc, junk, "malformed");
    }
    // JSON-typed access token from another service (typ JWT) is not ours either.
    const idToken = await craft(hsKey, { alg: "HS256", typ: "JWT" });
    await assertRejected(hs, idToken, "typ");
  });
});

Deno.test("jwt: configuration is validated", async (t) => {
  const rejectsConfig = (s: JwtSettings) => assert.rejects(createTokenService(s), JwtConfigError);

  await t.step("HS256 secret must be >= 32 bytes", async () => {
    await rejectsConfig({ ...base, secret: "x".repeat(31) });
    await rejectsConfig({ ...base, secret: SECRET, previousSecrets: ["short"] });
    await createTokenService({ ...base, secret: "x".repeat(32) });
  });

  await t.step("exactly one key source, compatible rotation settings", async () => {
    await rejectsConfig({ ...base });
    await rejectsConfig({ ...base, secret: SECRET, privateKeyPem: es.pkcs8 });
    await rejectsConfig({
      ...base,
      secret: SECRET,
      previousPublicKeysPem: [{ kid: "a", pem: es.spki }],
    });
    await rejectsConfig({ ...base, privateKeyPem: es.pkcs8, previousSecrets: [SECRET] });
    await rejectsConfig({
      ...base,
      privateKeyPem: es.pkcs8,
      keyId: "k",
      previousPublicKeysPem: [{ kid: "k", pem: ed.spki }],
    });
  });

  await t.step("TTL must be 1..900 s, iss/aud required", async () => {
    await rejectsConfig({ ...base, accessTtlSeconds: 901, secret: SECRET });
    await rejectsConfig({ ...base, accessTtlSeconds: 0, secret: SECRET });
    await rejectsConfig({ ...base, issuer: "", secret: SECRET });
    await rejectsConfig({ ...base, audience: " ", secret: SECRET });
  });

  await t.step("only P-256 and Ed25519 keys; PEM with escaped newlines accepted", async () => {
    const rsa = await generateKeyPair("RS256", { extractable: true });
    await rejectsConfig({ ...base, privateKeyPem: await exportPKCS8(rsa.privateKey) });
    const p384 = await generateKeyPair("ES384", { extractable: true });
    await rejectsConfig({ ...base, privateKeyPem: await exportPKCS8(p384.privateKey) });
    await rejectsConfig({ ...base, privateKeyPem: es.spki });
    await rejectsConfig({
      ...base,
      privateKeyPem: "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----",
    });
    const escaped = await createTokenService({
      ...base,
      privateKeyPem: es.pkcs8.replace(/\n/g, "\\n"),
    });
    assert.equal(escaped.alg, "ES256");
  });

  await t.step("signing input is validated", async () => {
    await assert.rejects(hs.signAccessToken({ ...input(), sub: "x" }), TypeError);
    await assert.rejects(hs.signAccessToken({ ...input(), role: "root" as "user" }), TypeError);
  });
});
