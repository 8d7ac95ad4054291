import assert from "node:assert/strict";
import { DestinationRefused, resolveDestination } from "./destination.ts";

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
