/**
 * The README's configuration table and the code agree: every environment
 * variable the code reads is documented there, every documented one is read,
 * and simple defaults are the ones the schema applies.
 *
 * Variables read by the Deno runtime itself (OTEL_DENO, OTEL_EXPORTER_OTLP_*,
 * OTEL_SERVICE_NAME, DENO_*) are not read by this code; the README documents
 * them under "Operating Gatehouse", outside the table, and this test does not
 * expect them in it.
 */
import assert from "node:assert/strict";
import { envSchema } from "../src/config.ts";

const ROOT = new URL("../", import.meta.url);

async function readText(path: string): Promise<string> {
  return await Deno.readTextFile(new URL(path, ROOT));
}

/** Source files of the service: src/ (recursively, its unit tests left out), main.ts and seed.ts. */
async function sourceFiles(): Promise<string[]> {
  const files = ["main.ts", "seed.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (/\.(ts|tsx|js|mjs)$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
        files.push(path);
      }
    }
  };
  await walk("src/");
  const present: string[] = [];
  for (const file of files) {
    try {
      await Deno.stat(new URL(file, ROOT));
      present.push(file);
    } catch {
      // seed.ts is optional
    }
  }
  return present;
}

interface TableRow {
  variable: string;
  defaultText: string;
  meaning: string;
}

/** The rows of the table under "## Configuration" in README.md. */
function configurationTable(readme: string): TableRow[] {
  const start = readme.search(/^## Configuration\s*$/m);
  assert.ok(start >= 0, 'README.md has a "## Configuration" section');
  const rest = readme.slice(start).split("\n").slice(1);
  const end = rest.findIndex((line) => line.startsWith("## "));
  const section = end >= 0 ? rest.slice(0, end) : rest;
  const rows: TableRow[] = [];
  for (const line of section) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? "");
    if (!name) continue;
    rows.push({ variable: name[1]!, defaultText: cells[1] ?? "", meaning: cells[2] ?? "" });
  }
  return rows;
}

/** Variables the code reads: the schema's keys plus any literal read outside it. */
async function variablesReadByCode(): Promise<{ names: Set<string>; problems: string[] }> {
  const names = new Set(Object.keys(envSchema.shape));
  const problems: string[] = [];
  for (const file of await sourceFiles()) {
    const text = await readText(file);
    for (const match of text.matchAll(/Deno\.env\.(get|has)\(\s*([^)]*)\)/g)) {
      const literal = /^["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]$/.exec(match[2]!.trim());
      if (literal) names.add(literal[1]!);
      // The one dynamic read: readEnv() in config.ts, over the schema's own keys.
      else if (!(file === "src/config.ts" && match[2]!.trim() === "key")) {
        problems.push(
          `${file}: Deno.env.${match[1]}(${
            match[2]
          }) reads a variable by a name the test cannot see`,
        );
      }
    }
    for (
      const match of text.matchAll(
        /process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]\s*\])/g,
      )
    ) {
      names.add(match[1] ?? match[2]!);
    }
    if (/Deno\.env\.toObject\(|process\.env\s*[^.[\s]/.test(text)) {
      problems.push(`${file}: reads the whole environment; declare variables in src/config.ts`);
    }
  }
  return { names, problems };
}

Deno.test("the README configuration table matches the variables the code reads", async (t) => {
  const readme = await readText("README.md");
  const rows = configurationTable(readme);
  const documented = new Set(rows.map((r) => r.variable));
  const { names: read, problems } = await variablesReadByCode();

  await t.step("the environment is read only through src/config.ts or by literal name", () => {
    assert.deepEqual(problems, []);
  });

  await t.step("every variable the code reads is documented", () => {
    const missing = [...read].filter((name) => !documented.has(name)).sort();
    assert.deepEqual(missing, [], `add to README.md's configuration table: ${missing.join(", ")}`);
  });

  await t.step("every documented variable is read by the code", () => {
    const unread = [...documented].filter((name) => !read.has(name)).sort();
    assert.deepEqual(unread, [], `documented but never read: ${unread.join(", ")}`);
  });

  await t.step("each variable is documented once, with a meaning", () => {
    assert.equal(rows.length, documented.size, "no duplicate rows");
    for (const row of rows) assert.ok(row.meaning.length > 0, `${row.variable} has a meaning`);
  });

  await t.step("documented simple defaults are the schema's defaults", () => {
    const shape = envSchema.shape as Record<string, { safeParse(v: unknown): unknown }>;
    for (const row of rows) {
      const field = shape[row.variable];
      if (!field) continue;
      const parsed = field.safeParse(undefined) as { success: boolean; data?: unknown };
      if (!parsed.success || parsed.data === undefined) continue;
      if (!["string", "number", "boolean"].includes(typeof parsed.data)) continue;
      assert.ok(
        row.defaultText.includes(`\`${String(parsed.data)}\``),
        `${row.variable}: README default "${row.defaultText}" should show \`${parsed.data}\``,
      );
    }
  });

  await t.step("runtime-read OpenTelemetry settings are documented outside the table", () => {
    assert.equal(documented.has("OTEL_DENO"), false);
    assert.match(readme, /OTEL_DENO=true/);
  });
});
