/**
 * Checks what can be checked about the Dockerfile without a Docker engine:
 *
 * - every base image is `denoland/deno:<major>.<minor>.<patch>` (optionally with a digest);
 * - the image runs as a non-root USER;
 * - dependencies are installed from the lockfile (`deno.lock` copied, `deno install --frozen`);
 * - CMD is `deno run` with exactly the permission flags of `deno task start` (deno.json) on
 *   the same entry point, and the image creates (and hands to its user) every directory
 *   that CMD may write to;
 * - EXPOSE is the default PORT of src/config.ts (and ENV PORT, when set, agrees).
 *
 *   deno run --allow-read scripts/check_dockerfile.ts
 */
import { envSchema } from "../src/config.ts";

export interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions in order, with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) continue;
    if (pending && line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).replace(/\s+/g, " ").trim();
    pending = "";
    const match = /^(\S+)\s*(.*)$/.exec(full);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
  }
  return out;
}

/** Permission flags of a deno command line: `--allow-*` and `--deny-*`, plus `-A`. */
export function permissionFlags(args: readonly string[]): string[] {
  return args.filter((a) => /^--(allow|deny)-/.test(a) || a === "-A").sort();
}

/** The argv of an exec-form (JSON array) CMD or ENTRYPOINT; undefined for shell form. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Every problem found; empty when the Dockerfile is as it should be. */
export function checkDockerfile(dockerfile: string, denoJson: string): string[] {
  const problems: string[] = [];
  const instructions = parseDockerfile(dockerfile);
  const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword);
  const last = (keyword: string) => all(keyword).at(-1);

  // Base image: an exact Deno release, never a floating tag.
  const froms = all("FROM");
  if (froms.length === 0) problems.push("no FROM instruction");
  for (const from of froms) {
    const image = from.args.split(/\s+/)[0] ?? "";
    if (!/^denoland\/deno:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$/.test(image)) {
      problems.push(`FROM ${image}: pin an exact denoland/deno:<major>.<minor>.<patch> tag`);
    }
  }

  // Non-root at run time: the last USER wins.
  const user = last("USER")?.args.split(/\s+/)[0];
  if (!user) problems.push("no USER instruction: the container would run as root");
  else if (/^(root|0)(:.*)?$/.test(user)) problems.push(`USER ${user}: run as a non-root user`);

  // Dependencies from the lockfile.
  const copiesLock = all("COPY").some((c) => /(^|\s)deno\.lock(\s|$)/.test(c.args));
  if (!copiesLock) problems.push("deno.lock is not copied into the image");
  const frozen = all("RUN").some((r) =>
    /\bdeno\s+(install|cache)\b/.test(r.args) && /--frozen(=true)?(\s|$)/.test(r.args)
  );
  if (!frozen) {
    problems.push("no `RUN deno install --frozen`: dependencies must come from the lockfile");
  }

  // Layer order: deno.json and deno.lock alone, the install, then the sources, so a
  // code change rebuilds only the layers after the dependency layer.
  const isManifestCopy = (args: string) =>
    args.split(/\s+/).slice(0, -1).every((f) => /^(\.\/)?deno\.(json|jsonc|lock)$/.test(f));
  const firstInstall = instructions.findIndex((i) =>
    i.keyword === "RUN" && /\bdeno\s+install\b/.test(i.args) && /--frozen/.test(i.args)
  );
  const firstSourceCopy = instructions.findIndex((i) =>
    i.keyword === "COPY" && !isManifestCopy(i.args)
  );
  if (firstInstall >= 0 && firstSourceCopy >= 0 && firstSourceCopy < firstInstall) {
    problems.push(
      "sources are copied before `deno install --frozen`: copy deno.json and deno.lock, " +
        "install, then copy the sources (so code changes reuse the dependency layer)",
    );
  }

  // CMD: deno run with the same permissions and entry point as `deno task start`.
  const start = (JSON.parse(denoJson) as { tasks?: Record<string, string> }).tasks?.start;
  const cmd = last("CMD");
  const argv = cmd ? execForm(cmd.args) : undefined;
  if (!start) problems.push("deno.json has no `start` task");
  if (!cmd) problems.push("no CMD instruction");
  else if (!argv) problems.push("CMD must use the exec (JSON array) form");
  if (all("ENTRYPOINT").length > 0) {
    problems.push("ENTRYPOINT is set: keep the whole command in CMD so it can be checked");
  }
  if (start && argv) {
    const task = start.trim().split(/\s+/);
    if (argv[0] !== "deno" || argv[1] !== "run") problems.push("CMD must start with deno run");
    const want = permissionFlags(task);
    const have = permissionFlags(argv);
    if (want.join(" ") !== have.join(" ")) {
      problems.push(
        `CMD permissions [${have.join(" ")}] differ from deno task start [${want.join(" ")}]`,
      );
    }
    if (have.includes("-A") || have.includes("--allow-all")) {
      problems.push("CMD must not grant every permission");
    }
    if (argv.at(-1) !== task.at(-1)) {
      problems.push(`CMD runs ${argv.at(-1)}, deno task start runs ${task.at(-1)}`);
    }
    // Whatever CMD may write to must exist and belong to the image's user.
    for (const flag of have.filter((f) => f.startsWith("--allow-write="))) {
      for (const dir of flag.slice("--allow-write=".length).split(",")) {
        const name = dir.replace(/^\.\//, "");
        const handed = all("RUN").some((r) =>
          r.args.includes("chown") &&
          new RegExp(`(^|[\\s/])${escapeRegExp(name)}(\\s|$)`).test(r.args)
        );
        if (!handed) problems.push(`CMD may write to ${dir}, but no RUN creates and chowns it`);
      }
    }
  }

  // EXPOSE: the default port of the service.
  const defaultPort = String(envSchema.shape.PORT.parse(undefined));
  const exposed = all("EXPOSE").flatMap((e) => e.args.split(/\s+/)).map((p) => p.split("/")[0]);
  if (!exposed.includes(defaultPort)) {
    problems.push(
      `EXPOSE ${exposed.join(" ") || "(none)"}: expected the default PORT ${defaultPort}`,
    );
  }
  const envPort = all("ENV").map((e) => /(?:^|\s)PORT[=\s]+(\d+)/.exec(e.args)?.[1]).find(Boolean);
  if (envPort && !exposed.includes(envPort)) {
    problems.push(`ENV PORT=${envPort} is not exposed`);
  }
  return problems;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const problems = checkDockerfile(
    await Deno.readTextFile(new URL("Dockerfile", root)),
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  if (problems.length > 0) {
    console.error(`Dockerfile check failed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    Deno.exit(1);
  }
  console.log("Dockerfile check passed");
}
