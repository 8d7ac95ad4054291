/**
 * /docs in a real headless Chromium (Debian `chromium`, driven by playwright-core),
 * with every request that leaves the service's origin blocked and recorded: the
 * page must render the operations from its own assets, under its CSP, and
 * "Try it out" of `query` must succeed with the prefilled example.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
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
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  // PUBLIC_URL unset: the document's server is the origin the page was loaded from.
  const h = await startTestApp({ PUBLIC_URL: "" });
  const server = startServer(h.app, h.services, { port: 0, hostname: "127.0.0.1" });
  const origin = `http://127.0.0.1:${server.port}`;
  const profile = await Deno.makeTempDir({ prefix: "gatehouse-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
    ],
  });
  try {
    const demo = (await seedDemo(h.services))!;
    const doc = await (await h.request("/openapi.json")).json();
    const operationCount = Object.values(doc.paths as Record<string, Record<string, unknown>>)
      .reduce((n, item) => n + Object.keys(item).length, 0);

    const leftOrigin: string[] = [];
    const problems: string[] = [];
    // No network but the service: anything else is recorded and refused.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith("data:")) return route.continue();
      leftOrigin.push(url);
      return route.abort();
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(String(error)));

    await t.step("the operations render from the service's own assets", async () => {
      const res = await page.goto(`${origin}/docs`, { waitUntil: "load" });
      assert.equal(res?.status(), 200);
      const csp = res!.headers()["content-security-policy"] ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      await page.waitForSelector(".opblock", { timeout: 30_000 });
      const blocks = await page.locator(".opblock").count();
      assert.equal(blocks, operationCount, "one block per operation of the document");
      assert.ok(await page.locator("#operations-query-query").isVisible());
      assert.deepEqual(leftOrigin, [], "no request left the origin");
      assert.deepEqual(
        problems.filter((p) => /Content Security Policy|Refused to/i.test(p)),
        [],
        "nothing was blocked by the CSP",
      );
    });

    await t.step("Try it out of query with the prefilled example answers 200", async () => {
      await page.locator(".btn.authorize").first().click();
      const dialog = page.locator(".modal-ux");
      await dialog.locator("input[type=text], input[type=password]").first().fill(demo.apiKey);
      await dialog.locator("button.authorize").first().click();
      await dialog.locator("button.btn-done").first().click();

      const op = page.locator("#operations-query-query");
      await op.locator(".opblock-summary").first().click();
      await op.locator("button.try-out__btn").click();
      await op.locator("button.execute").click();
      const status = op.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor({ timeout: 30_000 });
      const code = (await status.innerText()).trim();
      const body = await op.locator(".live-responses-table .response-col_description pre")
        .first().innerText();
      assert.equal(code, "200", body);
      assert.match(body, /"answers"/);
      assert.deepEqual(leftOrigin, [], "no request left the origin");
    });
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    await server.shutdown();
    await h.close();
  }
});
