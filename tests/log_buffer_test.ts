/**
 * Log lines are written to stdout in batches; none may be lost when the
 * process exits, whether normally, through Deno.exit or by an uncaught error.
 */
import assert from "node:assert/strict";

const LOG_MODULE = new URL("../src/log.ts", import.meta.url).href;

async function runLogging(ending: string): Promise<{ lines: string[]; code: number }> {
  const script = `
    import { createLogger } from ${JSON.stringify(LOG_MODULE)};
    const log = createLogger("info");
    for (let i = 0; i < 3; i++) log.info("line", { i });
    ${ending}
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  return { lines: text.split("\n").filter(Boolean), code: output.code };
}

Deno.test("buffered log lines survive every way of exiting", async (t) => {
  for (
    const [name, ending, code] of [
      ["normal end", "", 0],
      ["Deno.exit", "Deno.exit(3);", 3],
      ["uncaught error", "throw new Error('boom');", 1],
      ["pending timer keeps running", "setTimeout(() => log.info('late', { i: 3 }), 120);", 0],
    ] as const
  ) {
    await t.step(name, async () => {
      const result = await runLogging(ending);
      assert.equal(result.code, code);
      const indexes = result.lines.map((line) => JSON.parse(line).i);
      assert.deepEqual(indexes, ending.includes("late") ? [0, 1, 2, 3] : [0, 1, 2]);
    });
  }
});

Deno.test("warnings and errors are written at once", async () => {
  const script = `
    import { createLogger } from ${JSON.stringify(LOG_MODULE)};
    const log = createLogger("info");
    log.info("queued");
    log.error("now");
    // Kill the process before any flush timer or exit hook can run.
    Deno.kill(Deno.pid, "SIGKILL");
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "null",
  }).output();
  const messages = new TextDecoder().decode(output.stdout).split("\n").filter(Boolean)
    .map((line) => JSON.parse(line).msg);
  assert.deepEqual(messages, ["queued", "now"]);
});
