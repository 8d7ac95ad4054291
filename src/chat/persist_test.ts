import assert from "node:assert/strict";
import { titleFrom } from "./persist.ts";

Deno.test("persist: titles are the first message on one line, shortened", () => {
  assert.equal(titleFrom("  Hello\n\tworld  "), "Hello world");
  const long = titleFrom("word ".repeat(40));
  assert.ok(long.length <= 80);
  assert.ok(long.endsWith("…"));
  assert.equal(titleFrom("   "), "Untitled");
});
