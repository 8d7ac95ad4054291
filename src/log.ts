/** Structured JSON logging: one line per event, on stdout. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether lines of `level` are written (skip building fields that would be dropped). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
}

export type LogSink = (line: string, level: Exclude<LogLevel, "silent">) => void;

const encoder = new TextEncoder();
const FLUSH_BYTES = 64 * 1024;
const FLUSH_AFTER_MS = 50;

/**
 * Stdout, written in batches: one write per request cost a syscall each and was
 * the largest single cost of a liveness probe. Lines wait at most 50 ms (or
 * 64 KiB); warnings and errors flush at once, and so does process exit.
 */
class BufferedStdout {
  #pending: string[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    // Listening does not handle these events; it only writes what is pending first.
    for (const event of ["unload", "error", "unhandledrejection"]) {
      globalThis.addEventListener(event, () => this.flush());
    }
  }

  write(line: string, urgent: boolean): void {
    this.#pending.push(line);
    this.#bytes += line.length + 1;
    if (urgent || this.#bytes >= FLUSH_BYTES) {
      this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(() => this.flush(), FLUSH_AFTER_MS);
      // A pending flush must not keep an otherwise finished process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    this.#bytes = 0;
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

let stdout: BufferedStdout | undefined;
const stdoutSink: LogSink = (line, level) => {
  stdout ??= new BufferedStdout();
  stdout.write(line, level === "warn" || level === "error");
};

/** Errors are reduced to name/message/stack so they serialise; the log is internal only. */
function loggable(value: unknown): unknown {
  return value instanceof Error
    ? { name: value.name, message: value.message, stack: value.stack }
    : value;
}

/** The ISO timestamp, formatted once per millisecond however many lines share it. */
let stampedAt = 0;
let stamp = "";
function timestamp(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = new Date(now).toISOString();
  }
  return stamp;
}

export function createLogger(level: LogLevel, sink: LogSink = stdoutSink): Logger {
  const threshold = rank[level];
  const emit = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields) => {
    if (rank[lvl] < threshold) return;
    const record: LogFields = { time: timestamp(), level: lvl, msg };
    for (const key in fields) record[key] = loggable(fields[key]);
    sink(JSON.stringify(record), lvl);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    enabled: (lvl) => rank[lvl] >= threshold,
  };
}
