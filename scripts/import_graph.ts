/**
 * Reads the relative imports of src/ and reports the layer rule's back-edges and import cycles.
 *
 *   deno run --allow-read scripts/import_graph.ts [--json]
 *
 * Layers, top to bottom (README "Module map"); an import may point down or sideways inside one
 * folder, never up, and no set of files may import each other in a circle (type imports count).
 */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

/** Folder or file prefix → layer rank; higher may import lower. Longest prefix wins. */
export const LAYERS: Record<string, number> = {
  "src/server.ts": 90,
  "src/app.ts": 90,
  "src/routes/": 80,
  "src/http/": 70,
  "src/middleware/": 70,
  "src/services.ts": 60,
  "src/chat/": 50,
  "src/context/": 50,
  "src/seed/": 50,
  "src/auth/": 40,
  "src/ratelimit/": 40,
  "src/spend/": 40,
  "src/webhooks/": 40,
  "src/metrics/": 30,
  "src/llm/": 20,
  "src/db/": 10,
  "src/": 0,
};

export function layerOf(file: string): number {
  let best = "";
  for (const prefix of Object.keys(LAYERS)) {
    if (file.startsWith(prefix) && prefix.length > best.length) best = prefix;
  }
  return LAYERS[best] ?? 0;
}

function folderOf(file: string): string {
  return file.slice(0, file.lastIndexOf("/") + 1);
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) yield path;
  }
}

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;

export async function readGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const file of walk("src")) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    const targets = new Set<string>();
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2]!;
      targets.add(new URL(spec, `file:///${file}`).pathname.slice(1));
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

export function backEdges(graph: Map<string, string[]>): [string, string][] {
  const found: [string, string][] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (folderOf(from) === folderOf(to)) continue;
      if (layerOf(to) > layerOf(from)) found.push([from, to]);
    }
  }
  return found;
}

/** Strongly connected components with more than one file (Tarjan, iterative). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length) {
      const frame = work[work.length - 1]!;
      const [node, i] = frame;
      if (i === 0) {
        index.set(node, counter);
        low.set(node, counter++);
        stack.push(node);
        onStack.add(node);
      }
      const targets = (graph.get(node) ?? []).filter((t) => graph.has(t));
      if (i < targets.length) {
        frame[1]++;
        const next = targets[i]!;
        if (!index.has(next)) work.push([next, 0]);
        else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!));
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1) result.push(component.sort());
      }
    }
  }
  return result;
}

if (import.meta.main) {
  const graph = await readGraph();
  const edges = [...graph.values()].reduce((n, t) => n + t.length, 0);
  const back = backEdges(graph);
  const loops = cycles(graph);
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify({ files: graph.size, edges, back_edges: back, cycles: loops }));
  } else {
    console.log(`files ${graph.size}, imports ${edges}`);
    console.log(`back-edges ${back.length}`);
    for (const [from, to] of back) console.log(`  ${from} -> ${to}`);
    console.log(`cycles ${loops.length}`);
    for (const loop of loops) console.log(`  (${loop.length}) ${loop.join(" ")}`);
  }
}
