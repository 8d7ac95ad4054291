/**
 * Reports the import graph of src/: the layer rule's back-edges and the import cycles
 * (scripts/module_graph.ts reads it; tests/architecture_test.ts gates on it).
 *
 *   deno run --allow-read scripts/import_graph.ts [--json]
 */
import { measure } from "./module_graph.ts";

const { graph, back, loops } = await measure();
const edges = [...graph.values()].reduce((n, t) => n + t.length, 0);
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ files: graph.size, edges, back_edges: back, cycles: loops }));
} else {
  console.log(`files ${graph.size}, imports ${edges}`);
  console.log(`back-edges ${back.length}`);
  for (const [from, to] of back) console.log(`  ${from} -> ${to}`);
  console.log(`cycles ${loops.length}`);
  for (const loop of loops) console.log(`  (${loop.length}) ${loop.join(" ")}`);
}
