/**
 * Which closed-loop load generator a run uses: wrk when it is installed (the
 * default), autocannon under Node otherwise, with a warning that the ceiling
 * is then autocannon's own. BENCH_LOAD_GENERATOR=autocannon picks autocannon
 * on purpose (to compare with runs before wrk).
 */
import {
  AUTOCANNON,
  ensureAutocannon,
  type LoadResult,
  type LoadSpec,
  runLoad,
} from "./autocannon.ts";
import { runWrk, wrkVersion } from "./wrk.ts";

export interface LoadGenerator {
  name: "wrk" | "autocannon";
  /** As the tool reports it, e.g. "wrk debian/4.1.0-3+b2" or "9.0.0". */
  version: string;
  run(spec: LoadSpec): Promise<LoadResult>;
  /** Set when the run falls back to autocannon: printed and recorded in results.json. */
  warning?: string;
}

export const WRK_MISSING_WARNING =
  "WARNING: wrk is not installed (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk), " +
  "so the load comes from autocannon under Node, which needs about one core at 40,000 req/s: " +
  "the ceiling and every ratio are then autocannon's, not the server's. Install wrk for " +
  "figures comparable with the README.";

export interface GeneratorProbes {
  wrkVersion(): Promise<string | null>;
  autocannonVersion(): Promise<string>;
}

const realProbes: GeneratorProbes = { wrkVersion, autocannonVersion: ensureAutocannon };

export async function chooseLoadGenerator(
  preference: string | undefined,
  probes: GeneratorProbes = realProbes,
): Promise<LoadGenerator> {
  const wanted = preference || "wrk";
  if (wanted !== "wrk" && wanted !== "autocannon") {
    throw new Error(`BENCH_LOAD_GENERATOR must be wrk or autocannon, not ${wanted}`);
  }
  if (wanted === "wrk") {
    const version = await probes.wrkVersion();
    if (version !== null) return { name: "wrk", version, run: runWrk };
  }
  const version = await probes.autocannonVersion();
  return {
    name: "autocannon",
    version: `${AUTOCANNON} (${version})`,
    run: runLoad,
    ...(wanted === "wrk" ? { warning: WRK_MISSING_WARNING } : {}),
  };
}
