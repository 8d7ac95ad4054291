/**
 * `deno task client [openapi-url]`: regenerates clients/typescript/schema.d.ts
 * from a running service's /openapi.json (default http://localhost:8000).
 */
import { generateSchemaTypes, SCHEMA_FILE } from "./client_codegen.ts";

const url = Deno.args[0] ?? "http://localhost:8000/openapi.json";
let document: unknown;
try {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  document = await res.json();
} catch (error) {
  console.error(
    `Could not fetch ${url} (${error instanceof Error ? error.message : error}). ` +
      "Start the service first (`deno task start`) or pass the document's URL.",
  );
  Deno.exit(1);
}
await Deno.writeTextFile(SCHEMA_FILE, await generateSchemaTypes(document));
console.log(`Wrote ${SCHEMA_FILE.pathname}`);
