import assert from "node:assert/strict";
import { DEMO_EMAIL, seedDemo } from "../src/seed/demo.ts";
import { startTestApp } from "./support/harness.ts";

Deno.test("demo seed: once, into an empty database, with working credentials", async () => {
  const h = await startTestApp();
  try {
    const demo = await seedDemo(h.services);
    assert.ok(demo);
    assert.equal(demo.email, DEMO_EMAIL);
    assert.equal(await seedDemo(h.services), null, "never seeds twice");

    const whoami = await h.request("/v1/auth/whoami", { headers: { "x-api-key": demo.apiKey } });
    assert.equal(whoami.status, 200);
    assert.equal((await whoami.json()).principal.type, "api_key");

    const login = await h.json("POST", "/v1/auth/login", {
      email: demo.email,
      password: demo.password,
    });
    assert.equal(login.status, 200);
    const { access_token } = await login.json();
    const chatbot = await h.json("GET", `/v1/chatbots/${demo.chatbotId}`, undefined, {
      token: access_token,
    });
    assert.equal(chatbot.status, 200);
    assert.ok((await chatbot.json()).models.length > 0);

    const [row] = await h.services.sql`select key_hash from api_keys`;
    assert.notEqual(row!.key_hash, demo.apiKey, "only the hash is stored");
  } finally {
    await h.close();
  }
});
