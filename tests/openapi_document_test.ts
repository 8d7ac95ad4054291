import assert from "node:assert/strict";
import { startTestApp } from "./support/harness.ts";

Deno.test("/openapi.json is built once, not on every request", async () => {
  const h = await startTestApp();
  try {
    let builds = 0;
    const build = h.app.getOpenAPI31Document.bind(h.app);
    h.app.getOpenAPI31Document = (...args: Parameters<typeof build>) => {
      builds += 1;
      return build(...args);
    };
    const bodies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.request("/openapi.json");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      bodies.push(await res.text());
    }
    assert.equal(builds, 1, "one build serves every request");
    assert.equal(new Set(bodies).size, 1);
    assert.equal(JSON.parse(bodies[0]!).openapi, "3.1.0");
  } finally {
    await h.close();
  }
});

Deno.test("the OpenAPI servers URL never comes from the Host header", async (t) => {
  await t.step("PUBLIC_URL unset: a relative /", async () => {
    const h = await startTestApp({ PUBLIC_URL: "" });
    try {
      assert.equal(h.config.PUBLIC_URL, undefined);
      for (const host of ["evil.example", "attacker.test:8443"]) {
        const res = await h.request(`http://${host}/openapi.json`, { headers: { host } });
        const doc = await res.json();
        assert.equal(doc.servers.length, 1);
        assert.equal(doc.servers[0].url, "/");
        assert.doesNotMatch(JSON.stringify(doc), new RegExp(host.replace(".", "\\.")));
      }
    } finally {
      await h.close();
    }
  });

  await t.step("PUBLIC_URL set: exactly it", async () => {
    const h = await startTestApp({ PUBLIC_URL: "https://api.example.com" });
    try {
      const res = await h.request("http://evil.example/openapi.json", {
        headers: { host: "evil.example" },
      });
      assert.equal((await res.json()).servers[0].url, "https://api.example.com");
    } finally {
      await h.close();
    }
  });
});
