/**
 * Writes the service's OpenAPI document, built in-process (no network server,
 * embedded in-memory database).
 *
 *   deno run --allow-all scripts/dump_openapi.ts [out.json]
 *
 * Without an argument the JSON goes to stdout.
 */
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createServices } from "../src/services.ts";

/** A stable public URL so the `servers` entry is the same on every machine. */
export const DUMP_PUBLIC_URL = "https://api.gatehouse.example";

/** Builds the app against an in-memory database and returns its OpenAPI document. */
export async function buildOpenApiDocument(): Promise<unknown> {
  const config = loadConfig({
    DATA_DIR: "memory://",
    LOG_LEVEL: "silent",
    PUBLIC_URL: DUMP_PUBLIC_URL,
  });
  const services = await createServices(config, { log: createLogger("silent") });
  try {
    const app = createApp(services);
    const res = await app.request("/openapi.json");
    if (!res.ok) {
      throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
    }
    return await res.json();
  } finally {
    await services.close();
  }
}

if (import.meta.main) {
  const document = await buildOpenApiDocument();
  const json = JSON.stringify(document, null, 2) + "\n";
  const out = Deno.args[0];
  if (out) {
    await Deno.writeTextFile(out, json);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(json));
  }
}
