/**
 * Calling Gatehouse from TypeScript: log in, ask a question as JSON, then
 * stream one. Run it against a started service (`deno task start`):
 *
 *   GATEHOUSE_EMAIL=demo@gatehouse.local GATEHOUSE_PASSWORD=<from the banner> \
 *     deno run --allow-net --allow-env clients/typescript/example.ts
 *
 * GATEHOUSE_URL defaults to http://localhost:8000.
 */
import { createGatehouseClient, queryJson, queryStream } from "./mod.ts";

export async function example(
  baseUrl: string,
  email: string,
  password: string,
  print: (line: string) => void = console.log,
): Promise<{ answer: string; streamed: string }> {
  const gh = createGatehouseClient(baseUrl);
  const login = await gh.POST("/v1/auth/login", { body: { email, password } });
  if (!login.data) throw new Error(`login failed: ${login.error?.message}`);
  gh.setToken(login.data.access_token);
  print(`logged in as ${login.data.user.email}`);

  const { data, error } = await queryJson(gh, {
    prompt: "What is a capability-based security model?",
    mode: "speed",
  });
  if (!data) throw new Error(`query failed: ${error?.message}`);
  const answer = data.answers[data.selected ?? 0]?.content ?? "";
  print(`answer (${data.usage.input_tokens} in, ${data.usage.output_tokens} out): ${answer}`);

  let streamed = "";
  for await (const e of queryStream(gh, { prompt: "Stream this, please.", mode: "speed" })) {
    if (e.event === "chunk") streamed += e.data.delta;
    if (e.event === "error") throw new Error(`stream failed: ${JSON.stringify(e.data)}`);
  }
  print(`streamed: ${streamed}`);
  return { answer, streamed };
}

if (import.meta.main) {
  const email = Deno.env.get("GATEHOUSE_EMAIL");
  const password = Deno.env.get("GATEHOUSE_PASSWORD");
  if (!email || !password) {
    console.error("Set GATEHOUSE_EMAIL and GATEHOUSE_PASSWORD (the demo user's, from the banner).");
    Deno.exit(2);
  }
  await example(Deno.env.get("GATEHOUSE_URL") ?? "http://localhost:8000", email, password);
}
