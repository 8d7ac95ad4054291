import { apiKeyStart, generateApiKey, hashApiKey } from "../auth/api_key_format.ts";
import { hashPassword, scryptParams } from "../auth/passwords.ts";
import { defaultKeyScopes } from "../principal.ts";
import { insertApiKey } from "../db/api_keys.ts";
import { insertChatbot } from "../db/chatbots.ts";
import { countUsers, insertUser } from "../db/users.ts";
import type { Services } from "../services.ts";

export const DEMO_EMAIL = "demo@gatehouse.local";

export interface DemoCredentials {
  email: string;
  password: string;
  chatbotId: string;
  apiKey: string;
}

/**
 * Seeds a demo user, chatbot and API key into an empty database, so a first
 * embedded start can be tried at once. Does nothing when any user exists.
 * The password and key are random and returned only to be printed once.
 */
export async function seedDemo(services: Services): Promise<DemoCredentials | null> {
  const { sql, config, models } = services;
  if (await countUsers(sql) > 0) return null;
  const password = `demo-${crypto.randomUUID()}`;
  const passwordHash = await hashPassword(password, scryptParams(config));
  const apiKey = generateApiKey();
  const modelIds = models.list().map((m) => m.id).slice(0, 2);
  return await sql.begin(async (tx) => {
    const user = await insertUser(tx, {
      email: DEMO_EMAIL,
      passwordHash,
      displayName: "Demo User",
    });
    const chatbot = await insertChatbot(tx, user.id, {
      name: "Demo assistant",
      description: "Seeded on first start; answers with the configured models.",
      system_prompt: "You are a concise, friendly assistant.",
      models: modelIds,
      temperature: 0.7,
      context_fields: ["display_name", "company"],
      require_consent: false,
    });
    await insertApiKey(tx, {
      userId: user.id,
      name: "demo key",
      keyHash: hashApiKey(apiKey),
      start: apiKeyStart(apiKey),
      scopes: defaultKeyScopes("user"),
      chatbotId: null,
      tier: null,
      perMinute: null,
      perDay: null,
      expiresAt: null,
    });
    return { email: DEMO_EMAIL, password, chatbotId: chatbot.id, apiKey };
  });
}

/** The human-readable first-start banner (stdout, not the JSON log). */
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
    "",
  ].join("\n");
}
