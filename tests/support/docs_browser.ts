/**
 * Drives Debian's chromium through playwright-core against a running service's
 * /docs and prints what it saw as one JSON line. A separate process because
 * playwright-core probes paths (e.g. /proc/sys/fs/binfmt_misc) that Deno only
 * lets an --allow-all process read; tests/docs_browser_test.ts runs it.
 *
 *   deno run -A tests/support/docs_browser.ts <origin> <api key>
 */
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const [origin, apiKey] = Deno.args;
if (!origin || !apiKey) {
  console.error("usage: docs_browser.ts <origin> <api key>");
  Deno.exit(2);
}

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
const result: Record<string, unknown> = {};
try {
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

  const res = await page.goto(`${origin}/docs`, { waitUntil: "load" });
  result.status = res?.status();
  result.csp = res?.headers()["content-security-policy"] ?? "";
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  result.blocks = await page.locator(".opblock").count();
  result.queryVisible = await page.locator("#operations-query-query").isVisible();
  result.leftOriginAfterRender = [...leftOrigin];

  // "Try it out" of query with the prefilled example, authorized with the API key.
  await page.locator(".btn.authorize").first().click();
  const dialog = page.locator(".modal-ux");
  await dialog.locator("input[type=text], input[type=password]").first().fill(apiKey);
  await dialog.locator("button.authorize").first().click();
  await dialog.locator("button.btn-done").first().click();
  const op = page.locator("#operations-query-query");
  await op.locator(".opblock-summary").first().click();
  await op.locator("button.try-out__btn").click();
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 30_000 });
  result.tryStatus = (await status.innerText()).trim();
  result.tryBody = await op.locator(".live-responses-table .response-col_description pre").first()
    .innerText();
  result.leftOrigin = leftOrigin;
  result.problems = problems;
} finally {
  await context.close();
  await Deno.remove(profile, { recursive: true }).catch(() => {});
}
console.log(JSON.stringify(result));
