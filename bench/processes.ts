/** Subprocesses under test: started with their output in a log file, stopped by pid. */

export interface Server {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the exit code when the process ends on its own or is stopped. */
  exited: Promise<number>;
  /** Throws, with the end of its log, when the process is no longer running. */
  assertRunning(during: string): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  cwd: string;
  logDir: string;
  /** Polled until it answers 200. */
  readyPath: string;
  readyTimeoutMs?: number;
}

/** A port the kernel just handed out on loopback (free at the time of asking). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts `deno <args>` and waits until `readyPath` answers 200. */
export async function startServer(options: SpawnOptions): Promise<Server> {
  const logFile = `${options.logDir}/${options.name}.log`;
  // The log goes straight to a file through the shell's redirect (as it would to
  // journald or a log file): relaying it through this process would both compete
  // for the CPUs and stall the server whenever the pipe filled.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >"$log" 2>&1',
      "sh",
      logFile,
      Deno.execPath(),
      ...options.args,
    ],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = child.status.then((status) => status.code);
  let gone = false;
  void exited.then(() => (gone = true));

  const url = `http://127.0.0.1:${options.port}`;
  const server: Server = {
    name: options.name,
    url,
    pid: child.pid,
    logFile,
    exited,
    assertRunning: async (during) => {
      if (!gone) return;
      throw new Error(
        `${options.name} exited (code ${await exited}) during ${during}; last log lines:\n${await tail(
          logFile,
        )}`,
      );
    },
    stop: async (graceMs = 15_000) => {
      if (gone) return;
      try {
        child.kill("SIGTERM");
      } catch {
        return; // already gone
      }
      const timer = setTimeout(() => {
        try {
          if (!gone) child.kill("SIGKILL");
        } catch {
          // exited in between
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (gone) {
      throw new Error(
        `${options.name} exited during start-up (code ${await exited}):\n${await tail(logFile)}`,
      );
    }
    try {
      const response = await fetch(url + options.readyPath, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  await server.stop(2_000);
  throw new Error(`${options.name} did not become ready in time:\n${await tail(logFile)}`);
}

/**
 * Resident set size of a live process, from /proc/<pid>/status (Linux). Read by
 * `cat`: Deno only lets a program with --allow-all read /proc itself.
 */
export async function residentSetBytes(pid: number): Promise<number | null> {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(await readProcFile(`/proc/${pid}/status`));
  return match ? Number(match[1]) * 1024 : null;
}

/** Samples a process's RSS every `intervalMs` until stopped; reports the peak seen. */
export function sampleRss(pid: number, intervalMs = 1000): { stop(): Promise<number | null> } {
  let peak: number | null = null;
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    busy = residentSetBytes(pid).then((bytes) => {
      if (bytes !== null && (peak === null || bytes > peak)) peak = bytes;
    });
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await busy;
      return peak;
    },
  };
}

/** The 1-minute load average: other work on the machine skews every figure. */
export async function loadAverage(): Promise<number | null> {
  const value = Number((await readProcFile("/proc/loadavg")).split(" ")[0]);
  return Number.isFinite(value) ? value : null;
}

let clockTicks: number | undefined;

/** User + system CPU seconds a process has used so far (all threads), from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const stat = await readProcFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) return null;
  clockTicks ??= await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
    .then((o) => Number(new TextDecoder().decode(o.stdout).trim()) || 100, () => 100);
  return ticks / clockTicks;
}

/** A /proc file's text, or "" when it cannot be read. */
export async function readProcFile(path: string): Promise<string> {
  try {
    const output = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
      .output();
    return output.success ? new TextDecoder().decode(output.stdout) : "";
  } catch {
    return "";
  }
}

/** The last lines of a log file, for error messages. */
export async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
