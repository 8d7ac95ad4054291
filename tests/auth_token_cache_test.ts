/**
 * Verified access-token claims are reused per exact token text, never past the
 * token's `exp`, and never instead of the session check.
 */
import assert from "node:assert/strict";
import { Authenticator } from "../src/auth/authenticator.ts";
import type { AccessClaims, TokenService } from "../src/auth/jwt.ts";
import { createLogger } from "../src/log.ts";
import { startTestApp } from "./support/harness.ts";
import { registerUser } from "./support/users.ts";

/** The real token service, counting verifications; `expiresInMs` shortens what it reports. */
function countingTokens(real: TokenService, expiresInMs?: number) {
  const counter = { verifications: 0 };
  const tokens: TokenService = Object.create(real);
  tokens.verifyAccessToken = async (token: string): Promise<AccessClaims> => {
    counter.verifications++;
    const claims = await real.verifyAccessToken(token);
    return expiresInMs === undefined
      ? claims
      : { ...claims, exp: (Date.now() + expiresInMs) / 1000 };
  };
  return { tokens, counter };
}

Deno.test("access-token claims cache", async (t) => {
  const h = await startTestApp();
  const { sql, tokens: real, config } = h.services;
  const log = createLogger("silent");
  try {
    const user = await registerUser(h);

    await t.step("a token is verified once, then served from the cache", async () => {
      const { tokens, counter } = countingTokens(real);
      const authenticator = new Authenticator(sql, tokens, config, log);
      try {
        for (let i = 0; i < 5; i++) {
          const principal = await authenticator.authenticate({
            authorization: `Bearer ${user.accessToken}`,
          });
          assert.equal(principal.userId, user.id);
        }
        assert.equal(counter.verifications, 1);
        // One changed character is another token: verified (and refused) in full.
        const tampered = user.accessToken.slice(0, -2) +
          (user.accessToken.endsWith("AA") ? "BB" : "AA");
        await assert.rejects(
          authenticator.authenticate({ authorization: `Bearer ${tampered}` }),
          /Invalid or expired access token/,
        );
        assert.equal(counter.verifications, 2);
      } finally {
        await authenticator.close();
      }
    });

    await t.step("cached claims do not outlive the token's exp", async () => {
      const { tokens, counter } = countingTokens(real, 300);
      const authenticator = new Authenticator(sql, tokens, config, log);
      try {
        const presented = { authorization: `Bearer ${user.accessToken}` };
        await authenticator.authenticate(presented);
        await authenticator.authenticate(presented);
        assert.equal(counter.verifications, 1);
        await new Promise((resolve) => setTimeout(resolve, 350));
        await authenticator.authenticate(presented);
        assert.equal(counter.verifications, 2, "verified again once exp has passed");
      } finally {
        await authenticator.close();
      }
    });

    await t.step("a cached token still stops working when its session ends", async () => {
      const presented = { authorization: `Bearer ${user.accessToken}` };
      await h.services.authenticator.authenticate(presented); // verified and cached
      const logout = await h.json("POST", "/v1/auth/logout", undefined, {
        token: user.accessToken,
      });
      assert.equal(logout.status, 204);
      await assert.rejects(
        h.services.authenticator.authenticate(presented),
        /This session has ended/,
      );
    });
  } finally {
    await h.close();
  }
});
