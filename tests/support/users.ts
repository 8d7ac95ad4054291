import assert from "node:assert/strict";
import type { TestApp } from "./harness.ts";

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;

/** Registers a fresh user through the API. */
export async function registerUser(
  h: TestApp,
  options: { role?: "user" | "moderator" | "admin"; ip?: string; displayName?: string } = {},
): Promise<TestUser> {
  counter += 1;
  const email = `user${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `quiet-harbor-${crypto.randomUUID().slice(0, 12)}`;
  const res = await h.json("POST", "/v1/auth/register", {
    email,
    password,
    display_name: options.displayName ?? `User ${counter}`,
  }, { ip: options.ip ?? `198.51.100.${counter % 250}` });
  assert.equal(res.status, 201, await res.clone().text());
  const body = await res.json();
  let user: TestUser = {
    id: body.user.id,
    email,
    password,
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
  };
  if (options.role && options.role !== "user") {
    await h.services.sql`update users set role = ${options.role} where id = ${user.id}`;
    // Log in again so the new session's token carries the role.
    const login = await h.json("POST", "/v1/auth/login", { email, password }, {
      ip: options.ip ?? `198.51.100.${counter % 250}`,
    });
    assert.equal(login.status, 200);
    const pair = await login.json();
    user = { ...user, accessToken: pair.access_token, refreshToken: pair.refresh_token };
  }
  return user;
}

/** Creates an API key for `user` and returns the secret and its id. */
export async function createKey(
  h: TestApp,
  user: TestUser,
  body: Record<string, unknown> = { name: "test key" },
): Promise<{ id: string; key: string; body: Record<string, unknown> }> {
  const res = await h.json("POST", "/v1/api-keys", body, { token: user.accessToken });
  assert.equal(res.status, 201, await res.clone().text());
  const created = await res.json();
  return { id: created.id, key: created.key, body: created };
}
