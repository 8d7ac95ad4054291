/**
 * A minimal, real Upstash REST endpoint for tests, backed by a real Redis.
 *
 * Speaks the protocol @upstash/redis' HTTP client uses:
 *   POST /            body: ["CMD", ...args]          -> 200 {result} | 400 {error}
 *   POST /pipeline    body: [["CMD", ...], ...]       -> 200 [{result}|{error}, ...]
 *   POST /multi-exec  body: [["CMD", ...], ...]       -> 200 [{result}|{error}, ...] (atomic)
 * with `Authorization: Bearer <token>` enforced (401 otherwise) and, when the request carries
 * `Upstash-Encoding: base64` (the client's default), every string in a result base64-encoded.
 *
 * Lua shebangs: hosted Upstash accepts `#!lua flags=allow-key-locking`, which every
 * @upstash/ratelimit script starts with; the stock Redis behind this server rejects it. To
 * behave like the service it stands in for, the server itself tolerates the flag — it
 * rewrites scripts and their SHAs exactly as Upstash would accept them (via LuaScriptCompat).
 * The client-side code under test is therefore unmodified @upstash/redis + our REST config.
 */
import { createClient, ErrorReply } from "redis";
import { LuaScriptCompat, type PreparedCommand } from "../../src/ratelimit/backends/lua_compat.ts";
import {
  execTransaction,
  type Json,
  type RestReply,
  toJson,
} from "../../src/ratelimit/backends/resp_replies.ts";

export interface UpstashRestServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

type Reply = RestReply;

interface RespClient {
  sendCommand(args: readonly string[]): Promise<unknown>;
  multi(): { addCommand(args: readonly string[]): unknown; exec(): Promise<unknown[]> };
}

export async function startUpstashRestServer(
  redisUrl: string,
  token: string,
): Promise<UpstashRestServer> {
  const client = createClient({ url: redisUrl, RESP: 2 });
  client.on("error", () => {}); // failures surface through the commands themselves
  await client.connect();
  const redis = client as unknown as RespClient;
  const compat = new LuaScriptCompat();

  const exec = async (command: unknown): Promise<Reply> => {
    const args = toArgs(command);
    if ("error" in args) return args;
    const { args: rewritten, mapReply } = compat.prepare(args);
    try {
      return { result: toJson(mapReply(await redis.sendCommand(rewritten))) };
    } catch (error) {
      if (error instanceof ErrorReply) return { error: error.message };
      throw error;
    }
  };

  const multiExec = async (commands: unknown[]): Promise<Reply[]> => {
    const prepared: PreparedCommand[] = [];
    for (const command of commands) {
      const args = toArgs(command);
      if ("error" in args) return commands.map(() => args);
      prepared.push(compat.prepare(args));
    }
    return await execTransaction(redis.multi(), prepared);
  };

  const handler = async (request: Request): Promise<Response> => {
    if (request.method !== "POST") return json({ error: "Method not allowed" }, 405);
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return json({ error: "Unauthorized" }, 401);
    }
    const base64 = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json({ error: "ERR failed to parse command" }, 400);
    }
    const path = new URL(request.url).pathname.replace(/\/+$/, "");
    try {
      if (path === "") {
        const reply = await exec(body);
        return json(encodeReply(reply, base64), "error" in reply ? 400 : 200);
      }
      if (path === "/pipeline" || path === "/multi-exec") {
        if (!Array.isArray(body) || body.length === 0) {
          return json({ error: "ERR empty or invalid pipeline" }, 400);
        }
        const replies = path === "/pipeline"
          ? await Promise.all(body.map(exec))
          : await multiExec(body);
        return json(replies.map((r) => encodeReply(r, base64)), 200);
      }
      return json({ error: `Not found: ${path}` }, 404);
    } catch (error) {
      return json({ error: `ERR ${error instanceof Error ? error.message : error}` }, 500);
    }
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const { port } = server.addr;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    async close() {
      await server.shutdown();
      await client.close();
    },
  };
}

function toArgs(command: unknown): string[] | { error: string } {
  if (!Array.isArray(command) || command.length === 0) {
    return { error: "ERR command must be a non-empty array" };
  }
  const args: string[] = [];
  for (const part of command) {
    if (typeof part === "string") args.push(part);
    else if (typeof part === "number" || typeof part === "boolean") args.push(String(part));
    else return { error: "ERR command arguments must be strings or numbers" };
  }
  return args;
}

function encodeReply(reply: Reply, base64: boolean): Reply {
  return base64 && "result" in reply ? { result: encode(reply.result) } : reply;
}

/** Upstash base64 encoding: strings become base64(UTF-8), numbers and nulls stay as they are. */
function encode(value: Json): Json {
  if (typeof value === "string") {
    let binary = "";
    for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
    return btoa(binary);
  }
  if (Array.isArray(value)) return value.map(encode);
  return value;
}

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
