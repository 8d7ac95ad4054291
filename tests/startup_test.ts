import assert from "node:assert/strict";

Deno.test("main exits non-zero with one clear message and no stack trace on bad config", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--allow-net", "main.ts"],
    env: { PORT: "not-a-port", DATABASE_URL: "postgres://127.0.0.1:1/x" },
    clearEnv: true,
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1);
  assert.match(stderr, /PORT/);
  assert.match(stderr, /JWT_SECRET/);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/);
});
