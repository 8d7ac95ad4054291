/**
 * A turn answered in OpenAI's Chat Completions shapes: `chat.completion`, or a
 * stream of `chat.completion.chunk` lines ending with `data: [DONE]`.
 *
 * A stream is held back until the first content arrives: until then the router
 * may still fall back to another model, and a failure of every candidate (or a
 * refusal) is still an HTTP error the SDKs raise as their typed errors. After
 * it, a failure ends the stream with a `data: {"error": ...}` line and no
 * `[DONE]`, so a cut answer never looks complete.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { ApiError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Answer, AsyncQueue, type QueryEvent } from "../llm/mod.ts";
import { allModelsFailed } from "./llm_errors.ts";
import { SseWriter } from "./sse.ts";
import { errorEvent } from "./stream_errors.ts";
import type { ReleaseStream } from "./stream_limiter.ts";
import type { Turn, TurnRecord } from "./turn.ts";
import { totalUsage } from "./usage_accounting.ts";

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
}

/** Every model call of the turn, as the caller is charged for it. */
export function openAiUsage(answers: readonly Answer[]): OpenAiUsage {
  const total = totalUsage(answers);
  return {
    prompt_tokens: total.input_tokens,
    completion_tokens: total.output_tokens,
    total_tokens: total.input_tokens + total.output_tokens,
    cost_usd: total.cost_usd,
  };
}

function completionId(turn: Turn): string {
  return `chatcmpl-${turn.id}`;
}

/** The answer of a finished turn, or the 503 saying why there is none. */
function selected(record: TurnRecord): Answer {
  const { selected, answers } = record.result;
  if (selected === null) throw allModelsFailed(answers);
  return answers[selected]!;
}

/** `chat.completion` of a finished turn. */
export function completionBody(turn: Turn, record: TurnRecord, created: number) {
  const answer = selected(record);
  return {
    id: completionId(turn),
    object: "chat.completion" as const,
    created,
    model: answer.model,
    choices: [{
      index: 0,
      message: { role: "assistant" as const, content: answer.content, refusal: null },
      finish_reason: answer.finish_reason ?? "stop",
      logprobs: null,
    }],
    usage: openAiUsage(record.result.answers),
    system_fingerprint: null,
  };
}

export interface OpenAiStreamOptions {
  includeUsage: boolean;
  keepAliveMs: number;
  /** Frees the caller's stream slot once the stream ends. */
  release: ReleaseStream;
  /** The turn was started with it too; when it fires the stream ends with an error. */
  shutdown: AbortSignal;
  log: Logger;
}

type Outcome = { ok: true; record: TurnRecord } | { ok: false; error: unknown };

/**
 * Runs a started turn and answers it as an OpenAI stream. Resolves (to the
 * streaming response) once the first content is in; rejects with the API error
 * when the turn ends without any.
 */
export async function openAiStreamResponse(
  c: Context,
  turn: Turn,
  options: OpenAiStreamOptions,
): Promise<Response> {
  const events = new AsyncQueue<QueryEvent>();
  const finished: Promise<Outcome> = turn.run((event) => events.push(event)).then(
    (record) => ({ ok: true as const, record }),
    (error) => ({ ok: false as const, error }),
  ).finally(() => events.close());

  const held: QueryEvent[] = [];
  for await (const event of events) {
    held.push(event);
    if (event.type === "chunk") break;
  }
  const first = held.find((e) => e.type === "chunk");
  if (!first) {
    // Nothing was said: answer as a plain HTTP error, or an empty completion.
    const outcome = await finished;
    if (!outcome.ok) throw outcome.error;
    if (options.shutdown.aborted) throw shuttingDown();
    selected(outcome.record);
  }

  const created = Math.floor(Date.now() / 1000);
  let model = first?.type === "chunk" ? first.model : turn.models[0] ?? "";
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null,
  ) =>
    JSON.stringify({
      id: completionId(turn),
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...(options.includeUsage ? { usage: null } : {}),
    });

  return streamSSE(c, async (stream) => {
    const sse = new SseWriter(stream, { keepAliveMs: options.keepAliveMs });
    const clientGone = () => turn.cancel(new DOMException("client disconnected", "AbortError"));
    stream.onAbort(clientGone);
    try {
      await sse.data(chunk({ role: "assistant", content: "" }, null));
      const forward = async (event: QueryEvent) => {
        if (event.type !== "chunk") return;
        model = event.model;
        await sse.data(chunk({ content: event.delta }, null));
      };
      for (const event of held) await forward(event);
      for await (const event of events) await forward(event);
      const outcome = await finished;
      if (!outcome.ok) throw outcome.error;
      if (options.shutdown.aborted) throw shuttingDown();
      const answer = selected(outcome.record);
      model = answer.model;
      await sse.data(chunk({}, answer.finish_reason ?? "stop"));
      if (options.includeUsage) {
        await sse.data(JSON.stringify({
          id: completionId(turn),
          object: "chat.completion.chunk",
          created,
          model,
          system_fingerprint: null,
          choices: [],
          usage: openAiUsage(outcome.record.result.answers),
        }));
      }
      await sse.data("[DONE]");
    } catch (error) {
      // OpenAI's in-stream error: the SDKs raise it; no [DONE] follows.
      const { error: code, message } = errorEvent(error, options.log);
      await sse.data(JSON.stringify({
        error: {
          message,
          type: "server_error",
          param: null,
          code,
        },
      }));
    } finally {
      sse.close();
      options.release();
    }
  });
}

function shuttingDown(): ApiError {
  return new ApiError("service_unavailable", "The server is shutting down; try again.");
}
