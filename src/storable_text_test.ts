import assert from "node:assert/strict";
import { unstorableInputIssues } from "./storable_text.ts";

const NUL = "\u0000";
const LONE = "\ud800";

Deno.test("the input check walks iteratively and names every bad string", () => {
  let deep: unknown = "x";
  for (let i = 0; i < 200_000; i++) deep = [deep];
  const issues = unstorableInputIssues(deep);
  assert.equal(issues.length, 1);
  assert.match(issues[0]!.message, /nested more than/);
  assert.deepEqual(
    unstorableInputIssues({ a: [`ok`, `b${NUL}`], [`k${LONE}`]: 1, fine: "\ud83d\ude00" }).map((
      i,
    ) => JSON.stringify(i.path)).sort(),
    [JSON.stringify(["a", 1]), JSON.stringify([`k${LONE}`])].sort(),
  );
});
