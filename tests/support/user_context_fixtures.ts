import assert from "node:assert/strict";
import { startTestApp, type TestApp } from "./harness.ts";
import type { TestUser } from "./users.ts";

/**
 * Fixtures for the users, chatbots, consent and context suites. Matrix tests
 * send many requests per user, so the free tier is widened for them.
 */
export function startRoomyTestApp(): Promise<TestApp> {
  return startTestApp({
    RATE_LIMIT_TIERS: JSON.stringify({ free: { per_minute: 100_000, per_day: 1_000_000 } }),
  });
}

/** A user's access token or an API key secret: both are Bearer credentials. */
export type Credential = TestUser | string;

const tokenOf = (who: Credential) => typeof who === "string" ? who : who.accessToken;

/** Response bodies are asserted field by field, so they are read untyped. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** Sends a request and returns status and parsed body (null for an empty body). */
export async function call(
  h: TestApp,
  method: string,
  path: string,
  who: Credential,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await h.json(method, path, body, { token: tokenOf(who) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function createChatbot(
  h: TestApp,
  owner: Credential,
  body: Record<string, unknown> = { name: "Helper" },
): Promise<{ id: string; [key: string]: unknown }> {
  const res = await call(h, "POST", "/v1/chatbots", owner, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

export async function putDetails(
  h: TestApp,
  user: TestUser,
  body: Record<string, unknown>,
): Promise<void> {
  const res = await call(h, "PUT", `/v1/users/${user.id}/details`, user, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

export interface SeedMessage {
  role: "user" | "assistant" | "system";
  content: string;
  status?: "complete" | "incomplete" | "error";
}

/**
 * Writes a conversation straight to the database: the chat routes that create
 * them belong to another module, the context builder only reads them.
 */
export async function seedConversation(
  h: TestApp,
  userId: string,
  messages: SeedMessage[],
  chatbotId: string | null = null,
): Promise<string> {
  const sql = h.services.sql;
  const [conversation] = await sql<{ id: string }[]>`
    insert into conversations (user_id, chatbot_id, title)
    values (${userId}, ${chatbotId}, 'Seeded') returning id`;
  for (const message of messages) {
    await sql`
      insert into messages (conversation_id, role, content, status)
      values (${conversation!.id}, ${message.role}, ${message.content},
              ${message.status ?? "complete"})`;
  }
  return conversation!.id;
}

export function context(
  h: TestApp,
  who: Credential,
  userId: string,
  query: Record<string, string> = {},
) {
  const search = new URLSearchParams(query).toString();
  return call(h, "GET", `/v1/users/${userId}/context${search ? `?${search}` : ""}`, who);
}
