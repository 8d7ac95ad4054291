/**
 * The import graph of src/ and the layer rule, read from the source text: used by
 * scripts/import_graph.ts (the report) and tests/architecture_test.ts (the gate).
 *
 * Layers, top to bottom (README "Layout", the module map); an import may point down or sideways
 * inside one folder, never up, and no set of files may import each other in a circle (type
 * imports count).
 */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

/**
 * Folder or file prefix → layer rank; a file may import files of its own folder or of a lower
 * rank. Longest prefix wins. Keep in step with the README module map (a test checks that every
 * folder here is named there).
 */
export const LAYERS: Record<string, number> = {
  // the HTTP app: middleware order, error handler, docs, route registration
  "src/server.ts": 90,
  "src/app.ts": 90,
  // one file per API area: contracts beside handlers, OpenAPI shapes, presets
  "src/routes/": 80,
  // request env type, request meta, client IP, headers, CORS, body rules, requireAuth
  "src/http/": 70,
  // composition: the services bag, the health probes over it, the demo seed
  "src/services.ts": 60,
  "src/health_probes.ts": 60,
  "src/seed/": 60,
  // the domain: turns, streams, prompts; user context and consent
  "src/chat/": 50,
  "src/context/": 50,
  // credentials and access policy, limits, budgets, outbox
  "src/auth/": 40,
  "src/ratelimit/": 40,
  "src/spend/": 40,
  "src/webhooks/": 40,
  "src/metrics/": 30,
  // providers and the router: a leaf package (mod.ts)
  "src/llm/": 20,
  // all SQL, one module per table
  "src/db/": 10,
  // leaves everyone may import: config, errors, principal, log, version, lifecycle
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

/** Every import that breaks the layer rule, and every import cycle. */
export async function measure(): Promise<{
  graph: Map<string, string[]>;
  back: [string, string][];
  loops: string[][];
}> {
  const graph = await readGraph();
  return { graph, back: backEdges(graph), loops: cycles(graph) };
}
