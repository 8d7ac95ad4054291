/**
 * The pgbench cross-check of the stored `query` (issue 20): its script is made
 * from the statements one `POST /v1/query` really sends (bench/pgbench.ts), so
 * it cannot drift from the service. With TEST_DATABASE_URL set and pgbench on
 * PATH, pgbench runs the script and every transaction must store a whole turn.
 */
import assert from "node:assert/strict";
import {
  type CapturedStatement,
  captureQuery,
  parameterText,
  pgbenchScript,
  pgbenchVersion,
  runPgbench,
  StatementRecorder,
} from "../bench/pgbench.ts";
import { startTestApp, TEST_DATABASE_URL } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

const PGBENCH = TEST_DATABASE_URL ? await pgbenchVersion() : null;

const statement = (text: string, parameters: unknown[] = [], types?: number[]) => ({
  text,
  parameters,
  types: types ?? parameters.map(() => 0),
});

Deno.test("pgbench script: statements in order, transaction kept, minted ids from Postgres", () => {
  const user = "0b6f8f8e-1c1d-4c39-9a43-5f0e8f6f2a11";
  const row = "5d7e2c1a-9b8f-4e3d-8c2b-1a0f9e8d7c6b";
  const turn = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
  const { script, variables, freshIds } = pgbenchScript({
    // The previous, identical request: its ids (the user's) are not minted per request.
    warmup: [statement("select 1 where $1::uuid is not null", [user])],
    statements: [
      statement("begin"),
      statement(
        "\n  insert into t (id, owner, at, body, note)\n  values ($1, $2, $3, $4, $5)\n",
        [row, user, new Date(0), { turn_id: turn, n: 1 }, null],
        [0, 0, 1184, 3802, 0],
      ),
      statement("update t set done = $1 where id = $2 and owner = $3", [true, row, user], [
        16,
        0,
        0,
      ]),
      statement("commit"),
    ],
  });
  assert.equal(
    script,
    [
      `select ids.*, replace(:t_1, '${turn}', ids.id_2::text) as p_1`,
      "from (select gen_random_uuid() as id_1, gen_random_uuid() as id_2) as ids \\gset",
      "begin;",
      "insert into t (id, owner, at, body, note)\n  values (:id_1, :v_1, :v_2, :p_1, NULL);",
      "update t set done = :v_3 where id = :id_1 and owner = :v_1;",
      "commit;",
      "",
    ].join("\n"),
  );
  assert.deepEqual([...freshIds], [[row, "id_1"], [turn, "id_2"]]);
  assert.deepEqual(variables, {
    v_1: user,
    v_2: "1970-01-01T00:00:00.000Z",
    t_1: JSON.stringify({ turn_id: turn, n: 1 }),
    v_3: "t",
  });
});

Deno.test("pgbench script: a parameter it cannot carry or a text without its placeholder fails", () => {
  assert.throws(() => parameterText(["a"], 0), /cannot carry: object/);
  assert.equal(parameterText(["a"], 3802), '["a"]', "a JSON parameter is its JSON text");
  assert.throws(
    () => pgbenchScript({ warmup: [], statements: [statement("select $1", [1, 2])] }),
    /1 parameter\(s\) not in the text/,
  );
});

/** A regular expression for `s` as the script writes it: `$n` as a variable or NULL. */
function scriptPattern(s: CapturedStatement): RegExp {
  const escape = (part: string) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const parts = s.text.trim().replace(/;$/, "").split(/\$\d+\b/).map(escape);
  return new RegExp(`${parts.join("(?::[a-z]+_\\d+|NULL)")};`);
}

Deno.test({
  name:
    "pgbench script of one stored echo query: every statement it sent, its new rows' ids minted" +
    (PGBENCH ? ", and pgbench stores a whole turn per transaction" : ""),
  async fn(t) {
    const recorder = new StatementRecorder();
    const h = await startTestApp({}, {
      build: { databaseDebug: recorder.debug, webhookWorker: false },
    });
    try {
      const user = await registerUser(h);
      const key = await createKey(h, user);
      const capture = await captureQuery({
        recorder,
        request: (path, init) => h.request(path, init),
        apiKey: key.key,
        body: JSON.stringify({
          prompt: "Say something short.",
          mode: "speed",
          models: ["echo-fast"],
        }),
      });
      const { script, variables, freshIds } = pgbenchScript(capture);

      // Every captured statement is in the script, in the order it was sent.
      assert.ok(capture.statements.length >= 3, "a stored query sends several statements");
      let from = script.indexOf("\\gset") + "\\gset".length;
      for (const s of capture.statements) {
        const match = scriptPattern(s).exec(script.slice(from));
        assert.ok(match, `not in the script after offset ${from}:\n${s.text}`);
        from += match.index + match[0].length;
      }

      // The ids minted per transaction are exactly the ids of the rows that query created.
      const sql = h.services.sql;
      const [conversation] = await sql<{ id: string }[]>`
        select id from conversations where user_id = ${user.id}
        order by created_at desc, id limit 1`;
      const messages = await sql<{ id: string }[]>`
        select id from messages where conversation_id = ${conversation!.id}`;
      const usage = await sql<{ id: string }[]>`
        select id from usage_records where conversation_id = ${conversation!.id}`;
      assert.equal(messages.length, 2);
      assert.equal(usage.length, 1);
      assert.deepEqual(
        new Set(freshIds.keys()),
        new Set([conversation!.id, ...messages.map((m) => m.id), usage[0]!.id]),
      );
      // The caller's ids stay fixed values; the captured new ids appear only in the first line.
      const values = Object.values(variables);
      assert.ok(values.includes(user.id) && values.includes(key.id));
      const body = script.slice(script.indexOf("\\gset"));
      for (const [id, name] of freshIds) {
        assert.ok(!body.includes(id), `captured id ${id} is reused by the script`);
        assert.match(script, new RegExp(`gen_random_uuid\\(\\) as ${name}\\b`));
      }

      await t.step({
        name: "pgbench runs the script: each transaction stores a whole, completed turn",
        ignore: PGBENCH === null,
        fn: async () => {
          const count = async () => {
            const [row] = await sql<
              {
                conversations: number;
                questions: number;
                answers: number;
                settled: number;
                pending: number;
                partial: number;
              }[]
            >`
              select
                (select count(*) from conversations where user_id = ${user.id})::int
                  as conversations,
                (select count(*) from messages m join conversations c on c.id = m.conversation_id
                 where c.user_id = ${user.id} and m.role = 'user' and m.status = 'complete')::int
                  as questions,
                (select count(*) from messages m join conversations c on c.id = m.conversation_id
                 where c.user_id = ${user.id} and m.role = 'assistant' and m.status = 'complete'
                   and m.content <> '')::int as answers,
                (select count(*) from usage_records where user_id = ${user.id}
                 and status = 'complete' and conversation_id is not null)::int as settled,
                (select count(*) from usage_records where user_id = ${user.id}
                 and status = 'pending')::int as pending,
                (select count(*) from conversations c where c.user_id = ${user.id}
                 and (select count(*) from messages m where m.conversation_id = c.id) <> 2)::int
                  as partial`;
            return row!;
          };
          const before = await count();
          const url = new URL(TEST_DATABASE_URL!);
          url.searchParams.set("options", `-csearch_path=${h.schema}`);
          const result = await runPgbench(url.toString(), { script, variables, freshIds }, {
            clients: 2,
            transactions: 3,
          });
          assert.equal(result.transactions, 6);
          assert.equal(result.failed, 0);
          const after = await count();
          assert.deepEqual(after, {
            conversations: before.conversations + 6,
            questions: before.questions + 6,
            answers: before.answers + 6,
            settled: before.settled + 6,
            pending: 0,
            partial: 0,
          });
        },
      });
    } finally {
      await h.close();
    }
  },
});
