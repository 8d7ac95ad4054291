import type { JwtConfig } from "../config.ts";
import { dataDirError, ensureDataDir } from "../data_dir.ts";
import type { JwtSettings } from "./jwt.ts";

const SECRET_FILE = "jwt_secret";

/**
 * JWT settings from the environment. In embedded mode without JWT_SECRET a
 * secret is generated once and kept under DATA_DIR, so restarts keep sessions.
 */
export async function resolveJwtSettings(config: JwtConfig): Promise<JwtSettings> {
  const base = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    ...(config.JWT_KEY_ID ? { keyId: config.JWT_KEY_ID } : {}),
  };
  if (config.JWT_PRIVATE_KEY) {
    const previous = (config.JWT_PREVIOUS_PUBLIC_KEYS ?? []) as { kid: string; pem: string }[];
    return { ...base, privateKeyPem: config.JWT_PRIVATE_KEY, previousPublicKeysPem: previous };
  }
  const secret = config.JWT_SECRET ?? await embeddedSecret(config.DATA_DIR);
  return { ...base, secret, previousSecrets: config.JWT_PREVIOUS_SECRETS };
}

async function embeddedSecret(dataDir: string): Promise<string> {
  if (dataDir.startsWith("memory://")) return randomSecret();
  const path = `${dataDir.replace(/\/+$/, "")}/${SECRET_FILE}`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await ensureDataDir(dataDir);
  const secret = randomSecret();
  try {
    await Deno.writeTextFile(path, secret + "\n", { mode: 0o600, createNew: true });
  } catch (error) {
    throw dataDirError(dataDir, error);
  }
  return secret;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  return btoa(String.fromCharCode(...bytes));
}
