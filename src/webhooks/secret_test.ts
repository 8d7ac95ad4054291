import assert from "node:assert/strict";
import { generateWebhookSecret, SecretSealer } from "./secret.ts";

Deno.test("SecretSealer: bound to the endpoint id, opened after a secret rotation and flagged stale", async () => {
  const secret = generateWebhookSecret();
  const old = new SecretSealer("old-service-secret-0123456789abcdef");
  const sealed = await old.seal("id-1", secret);
  assert.ok(!sealed.includes(secret.slice(6)));
  assert.deepEqual(await old.open("id-1", sealed), { secret, stale: false });
  assert.equal(await old.open("id-2", sealed), null, "another row's sealed value does not open");
  const rotated = new SecretSealer("new-service-secret-0123456789abcdef", [
    "old-service-secret-0123456789abcdef",
  ]);
  assert.deepEqual(await rotated.open("id-1", sealed), { secret, stale: true });
  assert.equal(
    await new SecretSealer("unrelated-secret-0123456789abcdefgh").open("id-1", sealed),
    null,
  );
});
