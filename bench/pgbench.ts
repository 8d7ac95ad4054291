/**
 * The cross-check for the stored `query`: how many queries' worth of database
 * work per second Postgres itself allows, measured with pgbench against the same
 * database in the same run. `query` req/s over pgbench's transactions/s is the
 * share of Postgres's own capacity the service reaches (issue 20 asks for at
 * least 0.5).
 *
 * Nothing here is copied from src/db/: the script is made from the statements
 * one `POST /v1/query` really sends, recorded through postgres.js's `debug`
 * hook (createServices' `databaseDebug`) on an in-process instance of the
 * service, so it follows whatever the service runs today. Each recorded
 * statement becomes a line of the script with its parameters as pgbench
 * variables; the ids the request minted come from Postgres, new in every
 * transaction.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { createServices } from "../src/services.ts";

/**
 * One statement as postgres.js sends it. Its `debug` option is called as
 * `debug(connection, query, parameters, types)` when a statement is built, just
 * before it goes out (postgres.js 3.4, src/connection.js `build`): `query` is
 * the text with `$1..$n` placeholders, `parameters` the JavaScript values given
 * (a `sql.json(x)` parameter as `x` itself, before serialization) and `types`
 * their type oids, 0 where Postgres infers the type. Transactions show up as
 * statements of their own (`begin`, `commit`).
 */
export interface CapturedStatement {
  text: string;
  parameters: unknown[];
  types: number[];
}

/**
 * Sorts the statements postgres.js sends into recordings. A statement belongs
 * to a recording when postgres.js builds it inside the recording's async
 * context (AsyncLocalStorage): a query is built synchronously from the code
 * that awaits it, so the request's own statements carry the context, while
 * other work of the process (the batched `last_used_at` flush on its timer,
 * start-up) does not. Those are counted as strays; so is a request statement
 * that had to wait for a connection being opened (it is built later, outside
 * the context), so a recording with strays is not trusted (see captureQuery).
 */
export class StatementRecorder {
  readonly #context = new AsyncLocalStorage<CapturedStatement[]>();
  #recording = 0;
  #strays = 0;

  /** The `debug` hook to hand to createServices (`databaseDebug`). */
  readonly debug = (
    _connection: number,
    text: string,
    parameters: unknown[],
    types: number[],
  ): void => {
    const into = this.#context.getStore();
    if (into) into.push({ text, parameters: [...parameters], types: [...types] });
    else if (this.#recording > 0) this.#strays += 1;
  };

  /** Runs `work`, returning the statements built within it and how many others ran meanwhile. */
  async record(
    work: () => Promise<unknown>,
  ): Promise<{ statements: CapturedStatement[]; strays: number }> {
    const statements: CapturedStatement[] = [];
    const straysBefore = this.#strays;
    this.#recording += 1;
    try {
      await this.#context.run(statements, work);
    } finally {
      this.#recording -= 1;
    }
    return { statements: [...statements], strays: this.#strays - straysBefore };
  }
}

export interface QueryCapture {
  /** The statements of the recorded query, in the order they were sent. */
  statements: CapturedStatement[];
  /** The statements of the same request sent just before (the warm-up). */
  warmup: CapturedStatement[];
}

/** Time after an answer for work the request left running (none today) to send its statements. */
const AFTER_ANSWER_MS = 100;

/**
 * The statements of one `POST /v1/query` as the loaded service runs it. The
 * same request is sent once first: it fills what a busy service has warm (the
 * credential cache, so the key's lookup is not a per-request statement; the
 * spend counters, rebuilt from the ledger only when missing; prepared
 * statements), and the ids it sends tell the caller's (user, key) from those
 * each request mints. A recording disturbed by other statements is redone.
 */
export async function captureQuery(options: {
  recorder: StatementRecorder;
  request: (path: string, init: RequestInit) => Promise<Response>;
  apiKey: string;
  /** The JSON body of the query. */
  body: string;
}): Promise<QueryCapture> {
  const send = async () => {
    const res = await options.request("/v1/query", {
      method: "POST",
      headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
      body: options.body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`query to record: ${res.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, AFTER_ANSWER_MS));
  };
  const warmup = await options.recorder.record(send);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const recorded = await options.recorder.record(send);
    if (recorded.strays === 0) {
      return { statements: recorded.statements, warmup: warmup.statements };
    }
  }
  throw new Error("other statements ran during each of 3 recordings of a query");
}

/**
 * Records one query on an in-process instance of the service built with
 * `settings` (the running service's: same database, limiter and tiers), with
 * the webhook worker off so that nothing else in the process polls the
 * database, and no migrations (the service applied them).
 */
export async function captureServiceQuery(
  settings: Record<string, string>,
  query: { apiKey: string; body: string },
): Promise<QueryCapture> {
  const recorder = new StatementRecorder();
  const services = await createServices(loadConfig(settings), {
    log: createLogger("error"),
    databaseDebug: recorder.debug,
    skipMigrations: true,
    webhookWorker: false,
  });
  try {
    const app = createApp(services);
    return await captureQuery({
      recorder,
      request: (path, init) =>
        Promise.resolve(app.request(path, init, { remoteAddr: { hostname: "127.0.0.1" } })),
      ...query,
    });
  } finally {
    await services.close();
  }
}

/**
 * A parameter as the text postgres.js puts on the wire for it (its serializers
 * for the kinds a query sends), or null for NULL. Another kind is an error, so
 * that a new one is noticed rather than sent wrong.
 */
export function parameterText(value: unknown, type: number): string | null {
  if (value === null || value === undefined) return null; // the client maps undefined to null
  if (type === 114 || type === 3802) return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") {
    return String(value);
  }
  throw new Error(`a parameter the pgbench script cannot carry: ${typeof value} (type ${type})`);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

function uuidsIn(statements: CapturedStatement[]): string[] {
  return statements.flatMap((s) =>
    s.parameters.flatMap((p, i) => parameterText(p, s.types[i] ?? 0)?.match(UUID) ?? [])
  );
}

export interface PgbenchScript {
  /** A first line minting this transaction's ids, then the captured statements. */
  script: string;
  /** The `-D` variables: every parameter that is not a minted id or NULL. */
  variables: Record<string, string>;
  /** Each id the recorded query minted → the script variable that stands for it. */
  freshIds: Map<string, string>;
}

/**
 * The pgbench script of a capture. Each statement keeps its text, ended by `;`
 * (pgbench reads SQL up to a semicolon), with `$n` replaced by a variable:
 * - an id the query minted (a UUID the warm-up request did not send) by `:id_<k>`,
 *   set per transaction from gen_random_uuid() by the first line (`\gset`), one
 *   variable per id wherever it recurs;
 * - a text holding such ids (a JSON parameter: message ids, `turn_id` in the
 *   metadata) by `:p_<k>`, which that first line makes from the captured text
 *   (`-D t_<k>`) with each captured id replaced by its new one;
 * - NULL by the literal `NULL`;
 * - any other value by `:v_<k>`, set once with `-D` (the same value, the same variable).
 * That first line is a round trip the service does not make (it mints ids in
 * JavaScript): a read, no write, so pgbench's rate is a little low and the
 * ratio errs in the service's favour.
 * pgbench sends its variables untyped, so Postgres infers each parameter's type
 * from the statement, as it does for the parameters postgres.js leaves untyped.
 */
export function pgbenchScript(capture: QueryCapture): PgbenchScript {
  const before = new Set(uuidsIn(capture.warmup));
  const freshIds = new Map<string, string>();
  for (const id of uuidsIn(capture.statements)) {
    if (!before.has(id) && !freshIds.has(id)) freshIds.set(id, `id_${freshIds.size + 1}`);
  }
  const variables: Record<string, string> = {};
  const constants = new Map<string, string>();
  const templates = new Map<string, string>();
  const reference = (text: string): string => {
    const id = freshIds.get(text);
    if (id) return `:${id}`;
    if ([...freshIds.keys()].some((old) => text.includes(old))) {
      let name = templates.get(text);
      if (!name) {
        name = `p_${templates.size + 1}`;
        templates.set(text, name);
        variables[`t_${templates.size}`] = text;
      }
      return `:${name}`;
    }
    let name = constants.get(text);
    if (!name) {
      name = `v_${constants.size + 1}`;
      constants.set(text, name);
      variables[name] = text;
    }
    return `:${name}`;
  };
  const lines = capture.statements.map(({ text, parameters, types }) => {
    const refs = parameters.map((p, i) => {
      const value = parameterText(p, types[i] ?? 0);
      return value === null ? "NULL" : reference(value);
    });
    const used = new Set<number>();
    const body = text.trim().replace(/;$/, "").replace(/\$(\d+)\b/g, (_, n: string) => {
      const ref = refs[Number(n) - 1];
      if (ref === undefined) throw new Error(`$${n} without a parameter in: ${text}`);
      used.add(Number(n));
      return ref;
    });
    if (used.size !== parameters.length) {
      throw new Error(`${parameters.length - used.size} parameter(s) not in the text of: ${text}`);
    }
    return `${body};`;
  });
  if (freshIds.size > 0) {
    const ids = [...freshIds.values()].map((name) => `gen_random_uuid() as ${name}`);
    const made = [...templates].map(([text, name]) => {
      let expression = `:t_${name.slice("p_".length)}`;
      for (const [old, id] of freshIds) {
        if (text.includes(old)) expression = `replace(${expression}, '${old}', ids.${id}::text)`;
      }
      return `, ${expression} as ${name}`;
    });
    lines.unshift(
      `select ids.*${made.join("")}\nfrom (select ${ids.join(", ")}) as ids \\gset`,
    );
  }
  return { script: lines.join("\n") + "\n", variables, freshIds };
}

export interface PgbenchResult {
  transactionsPerSecond: number;
  transactions: number;
  failed: number;
  latencyMs: number | null;
}

/** The figures of pgbench's summary (PostgreSQL 15+ wording, older accepted). */
export function parsePgbenchOutput(stdout: string): PgbenchResult {
  const number = (re: RegExp) => {
    const m = re.exec(stdout);
    return m ? Number(m[1]) : null;
  };
  const tps = number(/^tps = ([\d.]+) \(without initial connection time\)/m) ??
    number(/^tps = ([\d.]+)/m);
  const transactions = number(/^number of transactions actually processed: (\d+)/m);
  if (tps === null || transactions === null) {
    throw new Error(`cannot read pgbench's summary:\n${stdout}`);
  }
  return {
    transactionsPerSecond: tps,
    transactions,
    failed: number(/^number of failed transactions: (\d+)/m) ?? 0,
    latencyMs: number(/^latency average = ([\d.]+) ms/m),
  };
}

export async function pgbenchVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command("pgbench", { args: ["--version"], stdout: "piped" })
      .output();
    return new TextDecoder().decode(out.stdout).trim() || "pgbench";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * `pgbench -n -M prepared -c <clients> -j 1` running `script`, for `seconds`
 * (`-T`) or `transactions` per client (`-t`). `databaseUrl` may carry libpq
 * parameters (a test's `options=-csearch_path=...`).
 */
export async function runPgbench(
  databaseUrl: string,
  script: PgbenchScript,
  run: { clients: number } & ({ seconds: number } | { transactions: number }),
): Promise<PgbenchResult> {
  const file = await Deno.makeTempFile({ prefix: "gatehouse-bench-", suffix: ".sql" });
  try {
    await Deno.writeTextFile(file, script.script);
    const output = await new Deno.Command("pgbench", {
      args: [
        "-n", // no vacuum of pgbench's own tables (there are none)
        "-M",
        "prepared",
        "-c",
        String(run.clients),
        "-j",
        "1",
        ...("seconds" in run ? ["-T", String(run.seconds)] : ["-t", String(run.transactions)]),
        ...Object.entries(script.variables).flatMap(([name, value]) => ["-D", `${name}=${value}`]),
        "-f",
        file,
        databaseUrl,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      throw new Error(
        `pgbench failed (exit ${output.code}):\n${stdout}${
          new TextDecoder().decode(output.stderr)
        }`,
      );
    }
    return parsePgbenchOutput(stdout);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
