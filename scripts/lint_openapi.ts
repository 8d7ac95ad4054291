/**
 * Lints the service's OpenAPI document with Spectral (spectral:oas + OWASP, see
 * .spectral.yaml) and Redocly CLI (recommended, see redocly.yaml).
 *
 *   deno run --allow-all scripts/lint_openapi.ts
 *
 * The linters are npm packages pinned below and installed once into the gitignored
 * `.tools/` directory (reinstalled when a pinned version changes). Error-severity findings
 * fail the run; warnings are printed only.
 */
import { buildOpenApiDocument } from "./dump_openapi.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
const TOOLS = `${ROOT}.tools`;
const BIN = `${TOOLS}/node_modules/.bin`;
const SPEC = `${TOOLS}/openapi.json`;

const PINNED: Record<string, string> = {
  "@stoplight/spectral-cli": "6.16.3",
  "@stoplight/spectral-owasp-ruleset": "2.0.1",
  "@redocly/cli": "2.77.0",
};

/** Runs a command in the repo root with inherited stdio; returns whether it succeeded. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  console.error(`$ ${[cmd, ...args].map((a) => a.replace(ROOT, "")).join(" ")}`);
  const { code } = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code === 0;
}

async function installedVersion(pkg: string): Promise<string | undefined> {
  try {
    const text = await Deno.readTextFile(`${TOOLS}/node_modules/${pkg}/package.json`);
    return JSON.parse(text).version;
  } catch {
    return undefined;
  }
}

async function ensureTools(): Promise<void> {
  const stale: string[] = [];
  for (const [pkg, version] of Object.entries(PINNED)) {
    if (await installedVersion(pkg) !== version) stale.push(pkg);
  }
  if (stale.length === 0) return;
  console.error(`Installing OpenAPI linters into .tools/ (${stale.join(", ")})`);
  await Deno.mkdir(TOOLS, { recursive: true });
  const specs = Object.entries(PINNED).map(([pkg, version]) => `${pkg}@${version}`);
  // --ignore-scripts: the linters need no install scripts, and one dependency's
  // postinstall (@scarf/scarf) is only usage telemetry.
  const npmArgs = ["install", "--prefix", TOOLS, "--no-audit", "--no-fund", "--ignore-scripts"];
  if (!await run("npm", [...npmArgs, "--save-exact", ...specs])) {
    throw new Error("npm install of the OpenAPI linters failed");
  }
}

await ensureTools();

const document = await buildOpenApiDocument();
await Deno.writeTextFile(SPEC, JSON.stringify(document, null, 2) + "\n");
console.error(`Wrote ${SPEC.replace(ROOT, "")}`);

const spectralOk = await run(`${BIN}/spectral`, [
  "lint",
  SPEC,
  "--ruleset",
  `${ROOT}.spectral.yaml`,
  "--fail-severity",
  "error",
]);

const redoclyOk = await run(`${BIN}/redocly`, [
  "lint",
  SPEC,
  "--config",
  `${ROOT}redocly.yaml`,
  "--max-problems",
  "1000",
], {
  REDOCLY_TELEMETRY: "off",
  REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
});

const failed = [...(spectralOk ? [] : ["spectral"]), ...(redoclyOk ? [] : ["redocly"])];
if (failed.length > 0) {
  console.error(`OpenAPI lint failed: ${failed.join(", ")}`);
  Deno.exit(1);
}
console.error("OpenAPI lint passed (spectral, redocly).");
