import assert from "node:assert/strict";
import { BoundedEphemeralCache } from "./ephemeral_cache.ts";

Deno.test("bounded ephemeral cache evicts the oldest entry", () => {
  const cache = new BoundedEphemeralCache(2);
  cache.set("a", 1).set("b", 2).set("a", 3).set("c", 4);
  // Updating "a" does not refresh it: eviction is by first insertion.
  assert.deepEqual([...cache.entries()], [["b", 2], ["c", 4]]);
  assert.ok(cache instanceof Map);
});
