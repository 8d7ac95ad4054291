/**
 * `deno task admin`: the first admin from the command line, against the
 * database the environment names (DATABASE_URL, or the embedded one under
 * DATA_DIR with the server stopped).
 *
 *   deno task admin promote <email>   an existing user becomes an admin
 *   deno task admin create <email>    a new admin; the password comes from
 *                                     ADMIN_PASSWORD, else one is generated
 *                                     and printed once
 */
import {
  AdminBootstrapError,
  ensureAdmin,
  promoteExistingUser,
} from "../src/auth/admin_bootstrap.ts";
import { ConfigError, loadConfig, readEnv } from "../src/config.ts";
import { DataDirError } from "../src/data_dir.ts";
import { findUserByEmail } from "../src/db/users.ts";
import { createLogger } from "../src/log.ts";
import { createServices } from "../src/services.ts";

/** 144 random bits, URL-safe. */
function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return "admin-" + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

const USAGE = [
  "usage: deno task admin promote <email>   make an existing user an admin",
  "       deno task admin create <email>    create an admin (password: ADMIN_PASSWORD, else generated)",
].join("\n");

const [command, email, ...extra] = Deno.args.filter((a) => a !== "--");
if (!command || !email || extra.length > 0 || !["promote", "create"].includes(command)) {
  console.error(USAGE);
  Deno.exit(2);
}

const env = readEnv();
const givenPassword = env.ADMIN_PASSWORD || undefined;
// ADMIN_EMAIL/ADMIN_PASSWORD are the start-up pair; here the email is the argument.
delete env.ADMIN_EMAIL;
delete env.ADMIN_PASSWORD;

try {
  const config = loadConfig(env);
  const services = await createServices(config, {
    log: createLogger(config.LOG_LEVEL === "debug" ? "debug" : "warn"),
  });
  try {
    if (command === "promote") {
      const result = await promoteExistingUser(services.sql, email);
      if (!result) {
        console.error(
          `No user with the email ${email}. Register it first, or: deno task admin create ${email}`,
        );
        Deno.exit(1);
      }
      console.log(
        result.outcome === "promoted"
          ? `${email} is now an admin (user ${result.userId}); their sessions were ended, so the next login carries the role.`
          : `${email} already is an admin (user ${result.userId}); nothing changed.`,
      );
    } else {
      if (await findUserByEmail(services.sql, email)) {
        console.error(
          `A user with the email ${email} exists; its password stays as it is. To make it an admin: deno task admin promote ${email}`,
        );
        Deno.exit(1);
      }
      const password = givenPassword ?? randomPassword();
      const result = await ensureAdmin(services.sql, {
        email,
        password,
        scrypt: { logN: config.PASSWORD_SCRYPT_LOG_N, r: 8, p: 1 },
        actor: "deno task admin create",
      });
      console.log(`Created the admin ${email} (user ${result.userId}).`);
      if (!givenPassword) console.log(`  password  ${password}   (shown once)`);
    }
  } finally {
    await services.close();
  }
} catch (error) {
  console.error(
    error instanceof ConfigError || error instanceof DataDirError ||
      error instanceof AdminBootstrapError
      ? error.message
      : `admin failed: ${error instanceof Error ? error.message : error}`,
  );
  Deno.exit(1);
}
