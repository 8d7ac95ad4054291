import { apiKeyStart, generateApiKey, hashApiKey } from "../auth/api_key_format.ts";
import { hashPassword, scryptParams } from "../auth/passwords.ts";
import { defaultKeyScopes } from "../principal.ts";
import { insertApiKey, listApiKeys, revokeApiKey } from "../db/api_keys.ts";
import { insertChatbot, listChatbots } from "../db/chatbots.ts";
import { revokeAllSessions } from "../db/sessions.ts";
import type { Tx } from "../db/tx.ts";
import { countUsers, findUserByEmail, insertUser, updatePasswordHash } from "../db/users.ts";
import type { Services } from "../services.ts";

export const DEMO_EMAIL = "demo@gatehouse.local";
const DEMO_KEY_NAME = "demo key";

/** How to get new demo credentials; printed with them and in the README. */
export const RESET_DEMO_HINT = "deno task seed --reset-demo";

export interface DemoCredentials {
  email: string;
  password: string;
  chatbotId: string;
  apiKey: string;
}

async function demoSecrets(services: Services) {
  const password = `demo-${crypto.randomUUID()}`;
  const { config } = services;
  const passwordHash = await hashPassword(password, scryptParams(config));
  return { password, passwordHash, apiKey: generateApiKey() };
}

async function insertDemoKey(tx: Tx, userId: string, apiKey: string): Promise<void> {
  await insertApiKey(tx, {
    userId,
    name: DEMO_KEY_NAME,
    keyHash: hashApiKey(apiKey),
    start: apiKeyStart(apiKey),
    scopes: defaultKeyScopes("user"),
    chatbotId: null,
    tier: null,
    perMinute: null,
    perDay: null,
    expiresAt: null,
  });
}

async function insertDemoChatbot(services: Services, tx: Tx, userId: string): Promise<string> {
  const modelIds = services.models.list().map((m) => m.id).slice(0, 2);
  const chatbot = await insertChatbot(tx, userId, {
    name: "Demo assistant",
    description: "Seeded on first start; answers with the configured models.",
    system_prompt: "You are a concise, friendly assistant.",
    models: modelIds,
    temperature: 0.7,
    context_fields: ["display_name", "company"],
    require_consent: false,
  });
  return chatbot.id;
}

/**
 * Seeds a demo user, chatbot and API key into an empty database, so a first
 * embedded start can be tried at once. Does nothing when any user exists.
 * The password and key are random and returned only to be printed once.
 */
export async function seedDemo(services: Services): Promise<DemoCredentials | null> {
  const { sql } = services;
  if (await countUsers(sql) > 0) return null;
  const { password, passwordHash, apiKey } = await demoSecrets(services);
  return await sql.begin(async (tx) => {
    const user = await insertUser(tx, {
      email: DEMO_EMAIL,
      passwordHash,
      displayName: "Demo User",
    });
    const chatbotId = await insertDemoChatbot(services, tx, user.id);
    await insertDemoKey(tx, user.id, apiKey);
    return { email: DEMO_EMAIL, password, chatbotId, apiKey };
  });
}

/**
 * `deno task seed --reset-demo`: new demo password and key (the old ones stop
 * working: sessions ended, demo keys revoked), so credentials shown once can be
 * had again. Creates the demo user, chatbot and key when they are missing.
 */
export async function resetDemo(services: Services): Promise<DemoCredentials> {
  const { sql } = services;
  const { password, passwordHash, apiKey } = await demoSecrets(services);
  return await sql.begin(async (tx) => {
    const existing = await findUserByEmail(tx, DEMO_EMAIL);
    const userId = existing
      ? existing.id
      : (await insertUser(tx, { email: DEMO_EMAIL, passwordHash, displayName: "Demo User" })).id;
    if (existing) {
      await updatePasswordHash(tx, userId, passwordHash);
      await revokeAllSessions(tx, userId, "demo_reset");
      const keys = await listApiKeys(tx, userId, { limit: 100, offset: 0 });
      for (const key of keys.items) {
        if (key.name === DEMO_KEY_NAME && key.revoked_at === null) await revokeApiKey(tx, key.id);
      }
    }
    await insertDemoKey(tx, userId, apiKey);
    const chatbots = await listChatbots(tx, { ownerId: userId, chatbotId: null }, {
      limit: 1,
      offset: 0,
    });
    const chatbotId = chatbots.items.at(-1)?.id ?? await insertDemoChatbot(services, tx, userId);
    return { email: DEMO_EMAIL, password, chatbotId, apiKey };
  });
}

/** The human-readable banner of demo credentials (stdout, not the JSON log). */
export function demoBanner(demo: DemoCredentials, baseUrl: string): string {
  return [
    "",
    "  Gatehouse demo data (shown once; stored only as hashes):",
    `    user      ${demo.email}`,
    `    password  ${demo.password}`,
    `    chatbot   ${demo.chatbotId}`,
    `    api key   ${demo.apiKey}`,
    "",
    `  Try: curl -H "X-API-Key: ${demo.apiKey}" ${baseUrl}/v1/auth/whoami`,
    `  Docs: ${baseUrl}/docs`,
    `  Lost them? \`${RESET_DEMO_HINT}\` prints a new password and key (the old ones stop working).`,
    "",
  ].join("\n");
}
