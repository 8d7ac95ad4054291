import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { findUserByEmail, insertUser } from "../src/db/users.ts";
import { createServices } from "../src/services.ts";
import { captureLogger } from "./support/harness.ts";

Deno.test("embedded data and the generated JWT secret survive a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gatehouse-data-" });
  const env = { DATA_DIR: dataDir, PASSWORD_SCRYPT_LOG_N: "14", LOG_LEVEL: "silent" };
  const { logger } = captureLogger();
  try {
    const first = await createServices(loadConfig(env), { log: logger });
    const user = await insertUser(first.sql, {
      email: "persist@example.com",
      passwordHash: "$scrypt$x",
    });
    const token = await first.tokens.signAccessToken({
      sub: user.id,
      sid: crypto.randomUUID(),
      role: "user",
    });
    await first.close();

    const secretFile = await Deno.stat(`${dataDir}/jwt_secret`);
    assert.equal(secretFile.mode! & 0o077, 0, "the secret file is private to its owner");

    const second = await createServices(loadConfig(env), { log: logger });
    try {
      assert.equal((await findUserByEmail(second.sql, "persist@example.com"))?.id, user.id);
      const claims = await second.tokens.verifyAccessToken(token.token);
      assert.equal(claims.sub, user.id, "tokens signed before the restart still verify");
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
