import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { chatRuntime } from "./runtime.ts";
import { sseTurnResponse } from "./sse_turn.ts";
import { Turn, type TurnInput, type TurnRecord } from "./turn.ts";

/** Whether the client asked for Server-Sent Events by header. */
export function acceptsEventStream(c: Context): boolean {
  const accept = c.req.header("accept") ?? "";
  return accept.split(",").some((part) =>
    part.trim().toLowerCase().startsWith("text/event-stream")
  );
}

/**
 * Answers a turn over HTTP: as JSON, or as SSE when asked for (`stream: true`
 * or `Accept: text/event-stream`). `body` is the operation's JSON body, which
 * is also the SSE `done` payload.
 */
export async function respondWithTurn(
  c: Context<AppEnv>,
  input: TurnInput & { stream?: boolean },
  body: (turn: Turn, record: TurnRecord) => unknown,
): Promise<Response> {
  const services = c.get("services");
  const principal = c.get("principal");
  const runtime = chatRuntime(services);
  if (!input.stream && !acceptsEventStream(c)) {
    const release = runtime.queries.acquire(principal);
    try {
      // Shutdown lets in-flight requests finish; only the client leaving cancels.
      const turn = await Turn.start(services, principal, input, [c.req.raw.signal]);
      const record = await turn.run();
      return c.json(body(turn, record) as Record<string, unknown>, 200);
    } finally {
      release();
    }
  }
  const release = runtime.streams.acquire(principal);
  try {
    const shutdown = services.lifecycle.shutdownSignal;
    const turn = await Turn.start(services, principal, { ...input, streamed: true }, [
      c.req.raw.signal,
      shutdown,
    ]);
    return sseTurnResponse(c, turn, {
      keepAliveMs: runtime.keepAliveMs,
      release,
      shutdown,
      log: services.log,
      body: (record) => body(turn, record),
    });
  } catch (error) {
    release();
    throw error;
  }
}
