/**
 * An open-loop latency probe: sends GET <url> at an even, fixed rate without
 * waiting for earlier answers, so an event loop that stalls shows up as latency
 * (a closed-loop client would simply send less). Prints one JSON line.
 *
 *   deno run --allow-net bench/probe.ts <url> <requests per second> <seconds>
 *
 * autocannon's `-R` is not used for this: it sends each second's quota in a
 * burst and then idles, so a stall later in the second goes unseen.
 */
export interface ProbeReport {
  sent: number;
  ok: number;
  failed: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Sends that left more than 5 ms after their slot: the probe itself was starved. */
  lateSends: number;
  seconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (n: number) => Math.round(n * 100) / 100;

export async function probe(url: string, rate: number, seconds: number): Promise<ProbeReport> {
  const interval = 1000 / rate;
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let failed = 0;
  let lateSends = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const slot = start + i * interval;
    const wait = slot - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    if (sentAt - slot > 5) lateSends++;
    inflight.push(
      fetch(url, { signal: AbortSignal.timeout(10_000) }).then(async (response) => {
        await response.arrayBuffer();
        if (response.ok) latencies.push(performance.now() - sentAt);
        else failed++;
      }, () => void failed++),
    );
  }
  await Promise.all(inflight);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    sent: total,
    ok: sorted.length,
    failed,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? Number.NaN),
    },
    lateSends,
    seconds: round((performance.now() - start) / 1000),
  };
}

if (import.meta.main) {
  const [url, rate, seconds] = Deno.args;
  if (!url || !(Number(rate) > 0) || !(Number(seconds) > 0)) {
    console.error("usage: probe.ts <url> <requests per second> <seconds>");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await probe(url, Number(rate), Number(seconds))));
}

/** Runs the probe in its own process (the caller may be busy driving other load). */
export async function runProbeProcess(
  url: string,
  rate: number,
  seconds: number,
): Promise<ProbeReport> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL(import.meta.url).pathname,
      url,
      String(rate),
      String(seconds),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success || !text) {
    throw new Error(`probe failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(text) as ProbeReport;
}
