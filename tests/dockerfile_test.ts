import assert from "node:assert/strict";
import { checkDockerfile, parseDockerfile } from "../scripts/check_dockerfile.ts";

const ROOT = new URL("../", import.meta.url);
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
const denoJson = await Deno.readTextFile(new URL("deno.json", ROOT));

/** The real Dockerfile with one line replaced (the variant must differ). */
function variant(from: RegExp, to: string): string {
  const changed = dockerfile.replace(from, to);
  assert.notEqual(changed, dockerfile, `pattern ${from} is in the Dockerfile`);
  return changed;
}

const problemsOf = (text: string, json = denoJson) => checkDockerfile(text, json).join("\n");

Deno.test("the Dockerfile is pinned, non-root, frozen and runs like deno task start", async (t) => {
  await t.step("the real Dockerfile passes every check", () => {
    assert.deepEqual(checkDockerfile(dockerfile, denoJson), []);
  });

  await t.step(
    "the README shows docker build and docker run with self-hosted settings",
    async () => {
      const readme = await Deno.readTextFile(new URL("README.md", ROOT));
      assert.match(readme, /^docker build /m);
      const run = /^docker run [\s\S]*?(?:\n\n|```)/m.exec(readme)?.[0] ?? "";
      for (const variable of ["DATABASE_URL", "REDIS_URL", "JWT_SECRET"]) {
        assert.match(run, new RegExp(`-e ${variable}`), `docker run sets ${variable}`);
      }
    },
  );

  await t.step("parses continuations and comments", () => {
    const parsed = parseDockerfile("# c\nFROM x\nRUN a \\\n  # inner comment\n  b\n");
    assert.deepEqual(parsed, [{ keyword: "FROM", args: "x" }, { keyword: "RUN", args: "a b" }]);
  });

  await t.step("a floating or missing base image tag is refused", () => {
    for (
      const tag of ["denoland/deno", "denoland/deno:latest", "denoland/deno:2", "denoland/deno:2.9"]
    ) {
      assert.match(problemsOf(variant(/^FROM \S+/m, `FROM ${tag}`)), /pin an exact/);
    }
    const digest = "a".repeat(64);
    assert.deepEqual(
      checkDockerfile(variant(/^FROM \S+/m, `FROM denoland/deno:2.9.6@sha256:${digest}`), denoJson),
      [],
    );
  });

  await t.step("root or no USER is refused", () => {
    assert.match(problemsOf(variant(/^USER .*$/m, "USER root")), /non-root/);
    assert.match(problemsOf(variant(/^USER .*$/m, "USER 0:0")), /non-root/);
    assert.match(problemsOf(variant(/^USER .*$/m, "")), /run as root/);
  });

  await t.step("dependencies must come from the lockfile", () => {
    assert.match(problemsOf(variant(/--frozen ?/, "")), /--frozen/);
  });

  await t.step("sources copied before the dependency install are refused", () => {
    const before = variant(
      /COPY deno\.json deno\.lock \.\/\nRUN deno install --frozen\n/,
      "COPY deno.json deno.lock ./\nCOPY src/ src/\nRUN deno install --frozen\n",
    );
    assert.match(problemsOf(before), /sources are copied before `deno install --frozen`/);
    // The real Dockerfile: manifest, install, then sources.
    const lines = parseDockerfile(dockerfile);
    const install = lines.findIndex((i) =>
      i.keyword === "RUN" && /deno install --frozen$/.test(i.args)
    );
    const firstSource = lines.findIndex((i) => i.keyword === "COPY" && /src\//.test(i.args));
    assert.ok(install >= 0 && install < firstSource);
  });

  await t.step("CMD permissions must equal those of deno task start", () => {
    assert.match(problemsOf(variant(/"--allow-net", /, "")), /differ from deno task start/);
    assert.match(problemsOf(variant(/"--allow-net"/, '"--allow-all"')), /differ/);
    const wider = JSON.parse(denoJson);
    wider.tasks.start = wider.tasks.start.replace("--allow-env", "--allow-env --allow-run");
    assert.match(problemsOf(dockerfile, JSON.stringify(wider)), /differ from deno task start/);
    assert.match(problemsOf(variant(/^CMD \[.*$/m, "CMD deno task start")), /exec \(JSON array\)/);
  });

  await t.step("EXPOSE must be the default PORT", () => {
    assert.match(problemsOf(variant(/^EXPOSE \d+/m, "EXPOSE 3000")), /default PORT 8000/);
  });
});
