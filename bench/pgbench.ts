/**
 * The cross-check for the stored `query`: how many turns per second Postgres
 * itself allows for the statement a query runs (src/db/conversations.ts, storeTurn),
 * measured with pgbench against the same database in the same run. `query`
 * req/s over pgbench's turns/s is the share of Postgres's own capacity the
 * service reaches (issue 20 asks for at least 0.5).
 *
 * The script is storeTurn's statement with the values of a turn the service
 * really stored in this run (read back from the database) as bind parameters;
 * the ids are made by Postgres (gen_random_uuid()) instead of sent, as every
 * transaction needs new ones. Keep it in step with storeTurn. It also writes
 * the turn's usage rows in the same statement, which storeTurn no longer does
 * (the spend ledger writes them apart, src/db/usage.ts): so one transaction
 * still writes all three tables a stored query writes.
 */
import postgres from "postgres";

export interface TurnSample {
  userId: string;
  apiKeyId: string | null;
  title: string;
  messages: {
    role: string;
    content: string;
    model: string | null;
    status: string;
    metadata: unknown;
  }[];
  usage: {
    model: string;
    input_tokens: number;
    output_tokens: number;
    cost_usd: string;
    latency_ms: number;
    status: string;
  }[];
}

/** The most recent turn stored in `databaseUrl`: its conversation, messages and usage. */
export async function sampleTurn(databaseUrl: string): Promise<TurnSample> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [conversation] = await sql<{ id: string; user_id: string; title: string | null }[]>`
      select id, user_id, title from conversations order by created_at desc limit 1`;
    if (!conversation) throw new Error("no stored turn to copy (did the query scenario run?)");
    const messages = await sql<TurnSample["messages"]>`
      select role, content, model, status, metadata from messages
      where conversation_id = ${conversation.id} order by seq`;
    const usage = await sql<(TurnSample["usage"][number] & { api_key_id: string | null })[]>`
      select api_key_id, model, input_tokens, output_tokens, cost_usd::text as cost_usd,
             latency_ms, status
      from usage_records where conversation_id = ${conversation.id}`;
    return {
      userId: conversation.user_id,
      apiKeyId: usage[0]?.api_key_id ?? null,
      title: conversation.title ?? "",
      messages: [...messages],
      usage: usage.map(({ api_key_id: _, ...u }) => u),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** storeTurn's statement as a pgbench script; its values come as `-D` variables. */
export const TURN_SCRIPT = `
with new_conversation as materialized (
  select gen_random_uuid() as id
), created as (
  insert into conversations (id, user_id, chatbot_id, title)
  select (select id from new_conversation), :user_id::uuid, null::uuid, :title
  where :is_new::boolean
  returning id
), touched as (
  update conversations set updated_at = now()
  where not :is_new::boolean and id = (select id from new_conversation) and user_id = :user_id::uuid
  returning id
), target as (
  select id from created union all select id from touched
), stored_messages as (
  insert into messages (id, conversation_id, role, content, model, status, metadata)
  select gen_random_uuid(), target.id, m.role, m.content, m.model, m.status, m.metadata
  from target, rows from (
    jsonb_to_recordset(:messages::jsonb)
      as (role text, content text, model text, status text, metadata jsonb)
  ) with ordinality as m(role, content, model, status, metadata, position)
  order by m.position
  returning 1
), stored_usage as (
  insert into usage_records (user_id, api_key_id, model, conversation_id, input_tokens,
                             output_tokens, cost_usd, latency_ms, status)
  select u.user_id, u.api_key_id, u.model, (select id from target), u.input_tokens,
         u.output_tokens, u.cost_usd, u.latency_ms, u.status
  from jsonb_to_recordset(:usage::jsonb)
    as u(user_id uuid, api_key_id uuid, model text, input_tokens integer,
         output_tokens integer, cost_usd numeric, latency_ms integer, status text)
  returning 1
)
select exists (select 1 from target) as linked;
`.trim().replace(/\n\s*/g, " ") + "\n"; // pgbench reads one statement per line

/** The `-D name=value` arguments that give TURN_SCRIPT a sample's values. */
export function turnVariables(sample: TurnSample): string[] {
  const usage = sample.usage.map((u) => ({
    user_id: sample.userId,
    api_key_id: sample.apiKeyId,
    ...u,
  }));
  const values: Record<string, string> = {
    user_id: sample.userId,
    title: sample.title,
    is_new: "true",
    messages: JSON.stringify(sample.messages),
    usage: JSON.stringify(usage),
  };
  return Object.entries(values).flatMap(([name, value]) => ["-D", `${name}=${value}`]);
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

/** `pgbench -n -M prepared -c <clients> -j 1 -T <seconds>` running TURN_SCRIPT. */
export async function runPgbench(
  databaseUrl: string,
  sample: TurnSample,
  clients: number,
  seconds: number,
): Promise<PgbenchResult> {
  const script = await Deno.makeTempFile({ prefix: "gatehouse-bench-", suffix: ".sql" });
  try {
    await Deno.writeTextFile(script, TURN_SCRIPT);
    const output = await new Deno.Command("pgbench", {
      args: [
        "-n", // no vacuum of pgbench's own tables (there are none)
        "-M",
        "prepared",
        "-c",
        String(clients),
        "-j",
        "1",
        "-T",
        String(seconds),
        ...turnVariables(sample),
        "-f",
        script,
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
    await Deno.remove(script).catch(() => {});
  }
}
