/**
 * Summarises a V8 CPU profile (`deno task bench --cpu-prof` writes the
 * service's into bench/profiles/): where the busy (non-idle) time went, by
 * package or source file, by function (self) and by function (inclusive).
 *
 *   deno run --allow-read bench/profile.ts bench/profiles/CPU.<...>.cpuprofile [rows]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const IDLE = new Set(["(idle)", "(program)"]);

/** "npm:hono", "src/log.ts", "ext:deno_fetch/20_headers.js" or a native op name. */
function origin(frame: ProfileNode["callFrame"]): string {
  const npm = /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (npm) return `npm:${npm[1]}`;
  const local = /\/(src\/.+|main\.ts|bench\/.+)$/.exec(frame.url);
  if (local) return local[1]!;
  return frame.url || frame.functionName;
}

function label(frame: ProfileNode["callFrame"]): string {
  if (!frame.url) return frame.functionName; // native: an op, GC, (root)
  return `${frame.functionName || "(anonymous)"} ${origin(frame)}:${frame.lineNumber + 1}`;
}

export function summarise(profile: CpuProfile, rows = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

  const selfByOrigin = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, n: number) =>
    map.set(key, (map.get(key) ?? 0) + n);
  let busy = 0;
  for (const [id, count] of hits) {
    const node = byId.get(id)!;
    if (IDLE.has(node.callFrame.functionName)) continue;
    busy += count;
    add(selfByOrigin, origin(node.callFrame), count);
    add(selfByFunction, label(node.callFrame), count);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const name = label(byId.get(cur)!.callFrame);
      if (!seen.has(name)) add(inclusive, name, count);
      seen.add(name);
    }
  }

  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const lines = [
    `${profile.samples.length} samples over ${seconds.toFixed(1)} s; busy ${
      (100 * busy / profile.samples.length).toFixed(1)
    }% (percentages below are shares of busy time)`,
  ];
  const table = (title: string, map: Map<string, number>) => {
    lines.push("", title);
    const top = [...map].sort((a, b) => b[1] - a[1]).slice(0, rows);
    for (const [key, count] of top) {
      lines.push(`${(100 * count / busy).toFixed(1).padStart(6)}%  ${key}`);
    }
  };
  table("self time by package or file", selfByOrigin);
  table("self time by function", selfByFunction);
  table("inclusive time by function", inclusive);
  return lines.join("\n");
}

if (import.meta.main) {
  const [file, rows] = Deno.args;
  if (!file) {
    console.error("usage: profile.ts <file.cpuprofile> [rows]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  console.log(summarise(profile, rows ? Number(rows) : 25));
}
