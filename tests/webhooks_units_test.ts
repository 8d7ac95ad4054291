import assert from "node:assert/strict";
import { loadConfig, parseDurations } from "../src/config.ts";
import { isPublicAddress } from "../src/webhooks/address.ts";
import { DestinationRefused, resolveDestination } from "../src/webhooks/destination.ts";
import { eventBody, thresholdsReached } from "../src/webhooks/events.ts";
import { generateWebhookSecret, SecretSealer } from "../src/webhooks/secret.ts";

Deno.test("isPublicAddress refuses loopback, private, link-local, multicast and reserved ranges", () => {
  const blocked = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "2002:7f00:1::1",
    "not-an-ip",
  ];
  for (const address of blocked) assert.equal(isPublicAddress(address), false, address);
  for (
    const address of ["8.8.8.8", "93.184.215.14", "172.32.0.1", "::ffff:8.8.8.8", "2606:4700::1111"]
  ) {
    assert.equal(isPublicAddress(address), true, address);
  }
});

Deno.test("resolveDestination checks scheme, credentials and every resolved address", async () => {
  const resolver = (host: string) =>
    Promise.resolve(
      ({ "a.test": ["93.184.215.14"], "b.test": ["93.184.215.14", "10.0.0.1"] } as Record<
        string,
        string[]
      >)[host] ?? [],
    );
  const strict = { allowHttp: false, allowPrivate: false, resolver };
  const ok = await resolveDestination("https://a.test:8443/x?y=1", strict);
  assert.equal(ok.address, "93.184.215.14");
  assert.equal(ok.hostname, "a.test");
  for (
    const url of [
      "http://a.test/",
      "https://u:p@a.test/",
      "https://b.test/",
      "https://c.test/",
      "https://[::1]/",
    ]
  ) {
    await assert.rejects(resolveDestination(url, strict), DestinationRefused, url);
  }
  const open = { allowHttp: true, allowPrivate: true, resolver };
  assert.equal((await resolveDestination("http://b.test/", open)).address, "93.184.215.14");
  assert.equal((await resolveDestination("http://127.0.0.1:9/", open)).address, "127.0.0.1");
  await assert.rejects(resolveDestination("https://u@a.test/", open), /credentials/);
});

Deno.test("thresholdsReached: inclusive, exact on 6-decimal amounts, several at once", () => {
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 499 }), []);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 500 }), [50]);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 800 }), [50, 80]);
  assert.deepEqual(thresholdsReached({ limit: 1000, used: 1500 }), [50, 80, 100]);
  assert.deepEqual(thresholdsReached({ limit: 0.3, used: 0.24 }), [50, 80]);
  assert.deepEqual(thresholdsReached({ limit: 0.1, used: 0.049999 }), []);
  assert.deepEqual(thresholdsReached({ limit: 0, used: 5 }), []);
});

Deno.test("eventBody is the Standard Webhooks {type, timestamp, data} JSON", () => {
  const body = eventBody("webhook.test", new Date("2026-11-30T12:00:00.000Z"), { a: 1 });
  assert.equal(
    body,
    '{"type":"webhook.test","timestamp":"2026-11-30T12:00:00.000Z","data":{"a":1}}',
  );
});

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

Deno.test("WEBHOOK_RETRY_SCHEDULE: units ms, s, m, h, d; `none`; bad values named", () => {
  assert.deepEqual(parseDurations("100ms,5s,2m,1h,1d"), [
    100,
    5000,
    120_000,
    3_600_000,
    86_400_000,
  ]);
  assert.deepEqual(parseDurations("none"), []);
  const config = loadConfig({ DATA_DIR: "memory://" });
  assert.deepEqual(config.WEBHOOK_RETRY_SCHEDULE, [
    5_000,
    30_000,
    120_000,
    600_000,
    3_600_000,
    21_600_000,
  ]);
  assert.equal(config.WEBHOOK_ALLOW_HTTP, false);
  assert.equal(config.WEBHOOK_ALLOW_PRIVATE, false);
  assert.equal(config.WEBHOOK_SWEEP_INTERVAL_S, 300);
  assert.equal(config.WEBHOOK_TIMEOUT_MS, 10_000);
  assert.throws(
    () => loadConfig({ DATA_DIR: "memory://", WEBHOOK_RETRY_SCHEDULE: "5 seconds" }),
    /WEBHOOK_RETRY_SCHEDULE/,
  );
  assert.throws(
    () => loadConfig({ DATA_DIR: "memory://", WEBHOOK_RETRY_SCHEDULE: "8d" }),
    /WEBHOOK_RETRY_SCHEDULE/,
  );
});
