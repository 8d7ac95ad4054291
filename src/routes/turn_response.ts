import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { assertPromptLength } from "../chat/prompt.ts";
import { sseTurnResponse } from "../chat/sse_turn.ts";
import { Turn, type TurnInput, type TurnRecord } from "../chat/turn.ts";

/** Whether the client asked for Server-Sent Events by header. */
export function acceptsEventStream(c: Context): boolean {
  const accept = c.req.header("accept") ?? "";
  return accept.split(",").some((part) =>
    part.trim().toLowerCase().startsWith("text/event-stream")
  );
}

/** A turn as an operation asks for it: `promptField` names the message's field in the request. */
export type HttpTurn = TurnInput & { stream?: boolean; promptField: string };

/** A chat message (sendChatMessage, queryChatbot): balanced mode, in a conversation. */
export function messageTurn(
  body: { message: string; conversation_id?: string; stream?: boolean },
  chatbotId: string | undefined,
): HttpTurn {
  return {
    message: body.message,
    promptField: "message",
    mode: "balanced",
    chatbotId,
    conversationId: body.conversation_id,
    stream: body.stream,
  };
}

/**
 * Answers a turn over HTTP: as JSON, or as SSE when asked for (`stream: true`
 * or `Accept: text/event-stream`); a message over MAX_PROMPT_CHARS is a 422
 * naming `promptField`. `body` is the operation's JSON body, which is also the
 * SSE `done` payload.
 */
export async function respondWithTurn(
  c: Context<AppEnv>,
  { promptField, ...input }: HttpTurn,
  body: (turn: Turn, record: TurnRecord) => unknown,
): Promise<Response> {
  const chat = c.get("services").chat;
  assertPromptLength(input.message, chat.maxPromptChars, promptField);
  const principal = c.get("principal");
  if (!input.stream && !acceptsEventStream(c)) {
    const release = chat.queries.acquire(principal);
    try {
      // Shutdown lets in-flight requests finish; only the client leaving cancels.
      const turn = await Turn.start(chat, principal, input, [c.req.raw.signal]);
      const record = await turn.run();
      return c.json(body(turn, record) as Record<string, unknown>, 200);
    } finally {
      release();
    }
  }
  const release = chat.streams.acquire(principal);
  try {
    const shutdown = chat.shutdown;
    const turn = await Turn.start(chat, principal, { ...input, streamed: true }, [
      c.req.raw.signal,
      shutdown,
    ]);
    return sseTurnResponse(c, turn, {
      keepAliveMs: chat.keepAliveMs,
      release,
      shutdown,
      log: chat.log,
      body: (record) => body(turn, record),
    });
  } catch (error) {
    release();
    throw error;
  }
}
