import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { ApiError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { QueryEvent } from "../llm/mod.ts";
import { SseWriter } from "./sse.ts";
import { errorEvent } from "./stream_errors.ts";
import type { ReleaseStream } from "./stream_limiter.ts";
import type { Turn, TurnRecord } from "./turn.ts";

export interface SseTurnOptions {
  keepAliveMs: number;
  /** Frees the caller's stream slot once the stream ends. */
  release: ReleaseStream;
  /** The turn was started with it too; when it fires, the stream ends with `error`. */
  shutdown: AbortSignal;
  log: Logger;
  /** The `done` payload: the operation's JSON body (throws ApiError when no model answered). */
  body: (record: TurnRecord) => unknown;
}

/**
 * Streams a started turn as SSE: `meta`, `chunk`s, `usage` per model, then
 * `done` with the operation's body, or `error`. Built with hono's streamSSE so
 * the headers requireAuth set (rate limits) stay on the response. A client
 * that goes away cancels the turn; it is stored as `incomplete` all the same.
 */
export function sseTurnResponse(c: Context, turn: Turn, options: SseTurnOptions): Response {
  return streamSSE(c, async (stream) => {
    const sse = new SseWriter(stream, { keepAliveMs: options.keepAliveMs });
    const clientGone = () => turn.cancel(new DOMException("client disconnected", "AbortError"));
    stream.onAbort(clientGone);
    c.req.raw.signal.addEventListener("abort", clientGone, { once: true });
    try {
      await sse.send("meta", {
        id: turn.id,
        conversation_id: turn.conversationId,
        models: turn.models,
        ...(turn.requiresConsent ? { requires_consent: turn.requiresConsent } : {}),
      });
      const record = await turn.run((event) => forward(sse, event));
      if (options.shutdown.aborted) {
        throw new ApiError("service_unavailable", "The server is shutting down; try again.");
      }
      await sse.send("done", options.body(record));
    } catch (error) {
      await sse.send("error", errorEvent(error, options.log));
    } finally {
      sse.close();
      c.req.raw.signal.removeEventListener("abort", clientGone);
      options.release();
    }
  });
}

async function forward(sse: SseWriter, event: QueryEvent): Promise<void> {
  if (event.type === "chunk") {
    await sse.send("chunk", { model: event.model, delta: event.delta });
  } else if (event.type === "usage") {
    // `usage` carries the cost too ({input_tokens, output_tokens, cost_usd}); the
    // top-level cost_usd stays for clients of the earlier shape.
    const { type: _type, usage, ...rest } = event;
    await sse.send("usage", { ...rest, usage: { ...usage, cost_usd: event.cost_usd } });
  }
}
