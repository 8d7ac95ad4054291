import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

Deno.test("no password, API key, refresh token, access token or webhook secret is stored in plain text", async () => {
  // No webhook worker: the endpoint below is an address that must not be dialled.
  const h = await startTestApp({}, { build: { webhookWorker: false } });
  try {
    const user = await registerUser(h);
    const key = await createKey(h, user, { name: "at-rest" });
    const refreshed =
      await (await h.json("POST", "/v1/auth/refresh", { refresh_token: user.refreshToken })).json();
    const ticket = await h.json("POST", "/v1/chat/ws-ticket", undefined, {
      token: user.accessToken,
    });
    const { ticket: wsTicket } = await ticket.json();
    const hook = await (await h.json("POST", "/v1/webhooks", {
      url: "https://93.184.215.14/hook",
      events: ["webhook.test"],
    }, { token: user.accessToken })).json();
    const webhookSecret: string = hook.secret;
    assert.match(webhookSecret, /^whsec_/);
    const secrets = [
      user.password,
      key.key,
      user.refreshToken,
      refreshed.refresh_token,
      user.accessToken,
      wsTicket,
      webhookSecret,
      // The key material alone, without its prefix.
      webhookSecret.slice("whsec_".length),
    ];

    const tables = await h.services.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`;
    assert.ok(tables.length >= 8);
    for (const { table_name } of tables) {
      const rows = await h.services.sql.unsafe(`select * from "${table_name}"`);
      const dump = JSON.stringify(rows);
      for (const secret of secrets) {
        assert.ok(!dump.includes(secret), `${table_name} holds a secret in plain text`);
      }
    }
    const log = h.log.text();
    for (const secret of secrets) assert.ok(!log.includes(secret), "the log holds a secret");
  } finally {
    await h.close();
  }
});
