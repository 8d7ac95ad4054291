/**
 * Runs @upstash/redis (and therefore @upstash/ratelimit) on a plain Redis server.
 *
 * @upstash/redis accepts a custom `Requester`: it hands us the JSON command it would POST to
 * the Upstash REST API (`["evalsha", sha, numkeys, ...]`, or an array of those for the
 * `/pipeline` and `/multi-exec` paths) and expects the REST body back: `{ result }` or
 * `{ error }` (pipelines: an array of those). We execute the commands over RESP with the
 * official `redis` client. A custom requester never receives `Upstash-Encoding: base64`
 * (only the built-in HTTP client sets it), so results are returned as plain JSON values.
 */
import { Redis, type Requester, type UpstashRequest, type UpstashResponse } from "@upstash/redis";
import { ErrorReply } from "redis";
import { LuaScriptCompat } from "./lua_compat.ts";
import { execTransaction, type Json, toJson } from "./resp_replies.ts";
import { RedisConnection, type RedisConnectionOptions } from "./redis_connection.ts";
import { StallWatchdog } from "./stall_watchdog.ts";

export interface RedisAdapterOptions extends RedisConnectionOptions {
  /** A connection with commands outstanding and no reply for this long is dropped. Default 2000 ms. */
  commandTimeoutMs?: number;
}

export interface RedisRequester extends Requester {
  /** Round-trip latency of a PING in milliseconds; rejects when Redis is unreachable. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

/** An @upstash/redis client whose commands are executed by node-redis. */
export interface UpstashOverRedis {
  readonly redis: Redis;
  ping(): Promise<number>;
  close(): Promise<void>;
}

type Outcome = UpstashResponse<Json>;

export function createRedisRequester(
  url: string,
  options: RedisAdapterOptions = {},
): RedisRequester {
  const connection = new RedisConnection(url, options);
  const compat = new LuaScriptCompat();
  const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
  const watchdog = new StallWatchdog(
    commandTimeoutMs,
    () => connection.abandon(`no reply from Redis for ${commandTimeoutMs} ms`),
  );

  const send = async (body: unknown): Promise<Outcome> => {
    const { args, mapReply } = compat.prepare(toArgs(body));
    const client = await connection.get();
    try {
      const reply = await watchdog.watch(client.sendCommand(args));
      return { result: toJson(mapReply(reply)) };
    } catch (error) {
      // Redis answered with an error: that is a command result, not a transport failure.
      if (error instanceof ErrorReply) return { error: error.message };
      throw error;
    }
  };

  const pipeline = (body: unknown): Promise<Outcome[]> => {
    // Commands issued in the same tick are written to the socket as one batch, in order.
    return Promise.all(toCommandList(body).map((command) => send(command)));
  };

  const multiExec = async (body: unknown): Promise<Outcome[]> => {
    const prepared = toCommandList(body).map((command) => compat.prepare(toArgs(command)));
    const client = await connection.get();
    return await execTransaction(
      client.multi(),
      prepared,
      (exec) => withTimeout(exec, commandTimeoutMs, "MULTI/EXEC timed out"),
    );
  };

  return {
    async request<TResult>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
      const [path, ...extra] = req.path ?? [];
      let response: Outcome | Outcome[];
      if (path === undefined || path === "") response = await send(req.body);
      else if (path === "pipeline" && extra.length === 0) response = await pipeline(req.body);
      else if (path === "multi-exec" && extra.length === 0) response = await multiExec(req.body);
      else throw new Error(`Unsupported Upstash REST path: /${(req.path ?? []).join("/")}`);
      // Pipelines answer with an array; @upstash/redis' Pipeline expects exactly that.
      return response as UpstashResponse<TResult>;
    },
    async ping(): Promise<number> {
      const started = performance.now();
      const client = await connection.get();
      await watchdog.watch(client.sendCommand(["PING"]));
      return performance.now() - started;
    },
    close: async () => {
      await connection.close();
      watchdog.stop();
    },
  };
}

export function createUpstashClientOverRedis(
  url: string,
  options: RedisAdapterOptions = {},
): UpstashOverRedis {
  const requester = createRedisRequester(url, options);
  return {
    redis: new Redis(requester),
    ping: () => requester.ping(),
    close: () => requester.close(),
  };
}

function toArgs(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0) {
    throw new TypeError("Expected a non-empty Redis command array");
  }
  return command.map((part) => {
    if (typeof part === "string") return part;
    if (typeof part === "number" || typeof part === "boolean") return String(part);
    // @upstash/redis serialises objects itself; anything else is a caller bug.
    return JSON.stringify(part);
  });
}

function toCommandList(body: unknown): unknown[] {
  if (!Array.isArray(body) || body.length === 0) {
    throw new TypeError("Expected a non-empty array of Redis commands");
  }
  return body;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
