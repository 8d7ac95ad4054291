/**
 * /docs in a real headless Chromium (Debian `chromium`, driven by playwright-core
 * in tests/support/docs_browser.ts), with every request that leaves the
 * service's origin blocked and recorded: the page must render the operations
 * from its own assets, under its CSP, and "Try it out" of `query` must succeed
 * with the prefilled example.
 */
import assert from "node:assert/strict";
import { seedDemo } from "../src/seed/demo.ts";
import { startServer } from "../src/server.ts";
import { startTestApp } from "./support/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.log(
    `docs_browser_test: SKIPPED because ${CHROMIUM} is absent (install it: apt-get install -y chromium)`,
  );
}

Deno.test({
  name: "/docs renders every operation offline in headless Chromium, and Try it out of query works",
  ignore: !hasChromium,
}, async () => {
  // PUBLIC_URL unset: the document's server is the origin the page was loaded from.
  const h = await startTestApp({ PUBLIC_URL: "" });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const origin = `http://127.0.0.1:${server.port}`;
  try {
    const demo = (await seedDemo(h.services))!;
    const doc = await (await h.request("/openapi.json")).json();
    const operationCount = Object.values(doc.paths as Record<string, Record<string, unknown>>)
      .reduce((n, item) => n + Object.keys(item).length, 0);
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./support/docs_browser.ts", import.meta.url).pathname,
        origin,
        demo.apiKey,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, stderr);
    const seen = JSON.parse(new TextDecoder().decode(run.stdout).trim().split("\n").at(-1)!);

    assert.equal(seen.status, 200);
    assert.match(seen.csp, /default-src 'self'/);
    assert.match(seen.csp, /script-src 'self'(;|$)/);
    assert.equal(seen.blocks, operationCount, "one rendered block per operation of the document");
    assert.equal(seen.queryVisible, true);
    assert.deepEqual(seen.leftOriginAfterRender, [], "no request left the origin");
    assert.deepEqual(
      seen.problems.filter((p: string) => /Content Security Policy|Refused to/i.test(p)),
      [],
      "nothing was blocked by the CSP",
    );
    assert.equal(seen.tryStatus, "200", seen.tryBody);
    assert.match(seen.tryBody, /"answers"/);
    assert.deepEqual(seen.leftOrigin, [], "no request left the origin");
  } finally {
    await server.shutdown();
    await h.close();
  }
});
