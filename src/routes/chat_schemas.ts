/**
 * OpenAPI shapes shared by the query and chat operations: answers, usage
 * totals, and responses that are JSON or, when streaming, Server-Sent Events.
 */
import { z } from "@hono/zod-openapi";
import { jsonResponse } from "./openapi_responses.ts";
import { ModelId } from "./shared_schemas.ts";

/** Upper bound of MAX_PROMPT_CHARS; the configured value is checked per request. */
const PROMPT_SCHEMA_MAX = 1_000_000;

/** A prompt or chat message. */
export const MessageText = (example: string) =>
  z.string().min(1).max(PROMPT_SCHEMA_MAX).openapi({
    description: "At most MAX_PROMPT_CHARS characters (default 32000); longer is 422.",
    example,
  });

export const Count = (example: number) =>
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ format: "int64", example });

export const CostUsd = z.number().min(0).max(1_000_000_000).openapi({
  description: "US dollars, exact to 6 decimals (micro-dollars).",
  example: 0.000042,
});

export const TokenUsageSchema = z.object({
  input_tokens: Count(12),
  output_tokens: Count(30),
}).openapi("TokenUsage", {
  description: "Reported by the provider when it does; estimated (characters / 4) otherwise.",
});

export const TotalUsageSchema = TokenUsageSchema.extend({ cost_usd: CostUsd })
  .openapi("TotalUsage", { description: "Summed over every model call of the request." });

/** Answers can be long; this only bounds the documented size. */
export const AnswerText = z.string().max(10_000_000);

export const AnswerSchema = z.object({
  model: ModelId,
  content: AnswerText.openapi({ example: "Echo: hello" }),
  finish_reason: z.string().max(64).nullable().openapi({ example: "stop" }),
  latency_ms: z.number().int().min(0).max(3_600_000).openapi({ format: "int32", example: 42 }),
  usage: TokenUsageSchema,
  cost_usd: CostUsd,
  status: z.enum(["complete", "incomplete", "error"]).openapi({
    description: "`incomplete`: cut short by the client leaving; `error`: see `error`.",
  }),
  error: z.object({
    code: z.string().max(64).openapi({ example: "upstream_error" }),
    message: z.string().max(1000),
  }).optional().openapi({ description: "Why this model failed (others may have answered)." }),
}).openapi("Answer");

/** The `stream` flag of every operation that can answer as SSE. */
export const StreamFlag = z.boolean().optional().openapi({
  description: "Answer as Server-Sent Events (as does `Accept: text/event-stream`).",
});

/** `tool_calls` and `results`: always empty, no tools are configured on this service. */
export const EmptyToolList = z.array(z.record(z.string().max(64), z.unknown())).max(0).openapi({
  description: "Reserved for tool use; always empty, no tools are configured.",
  example: [],
});

const EventStream = z.string().max(100_000_000).openapi({
  description: "Server-Sent Events: `meta` {id, conversation_id, models}, `chunk` {model, delta} " +
    "(many), `usage` per model, then `done` (this operation's JSON body) or `error` " +
    "{error, message}. Comment lines (`: keep-alive`) fill silences.",
  example: 'event: meta\ndata: {"id":"…","conversation_id":"…","models":["echo-fast"]}\n\n' +
    'event: chunk\ndata: {"model":"echo-fast","delta":"Echo: "}\n\n' +
    "event: done\ndata: {…}\n\n",
});

/** A turn's SSE example: the turn id, the one model that answered, what it sent and how fast. */
export interface StreamExample {
  id: string;
  model: string;
  deltas: string[];
  latency_ms: number;
}

/** What every turn's JSON body holds that its SSE example repeats. */
interface TurnBody {
  conversation_id: string;
  usage: { input_tokens: number; output_tokens: number; cost_usd: number };
}

/** A Server-Sent Events body made of `[event, data]` pairs, for response examples. */
function eventStreamExample(events: [string, unknown][]): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    .join("");
}

/**
 * 200 as JSON, or as SSE with `stream: true` / `Accept: text/event-stream`. The examples show
 * the same answer both ways: `json`, and as events `meta`, a `chunk` per delta, `usage` (one
 * model answered, so the total's), then `done` with `json`.
 */
export function jsonOrEventStream<T extends z.ZodType<TurnBody>>(
  schema: T,
  description: string,
  examples: { json: z.output<T>; stream: StreamExample },
) {
  const { json: done, stream: { id, model, deltas, latency_ms } } = examples;
  const { cost_usd, ...usage } = done.usage;
  const json = jsonResponse(schema, description, { example: done });
  const events = eventStreamExample([
    ["meta", { id, conversation_id: done.conversation_id, models: [model] }],
    ...deltas.map((delta): [string, unknown] => ["chunk", { model, delta }]),
    ["usage", { model, usage, cost_usd, latency_ms, finish_reason: "stop" }],
    ["done", done],
  ]);
  return {
    ...json,
    content: {
      ...json.content,
      "text/event-stream": { schema: EventStream, example: events },
    },
  };
}

export const STREAMING_DESCRIPTION =
  "With `stream: true` (or `Accept: text/event-stream`) the answer comes as Server-Sent " +
  "Events; a client that disconnects cancels the upstream calls and what was generated is " +
  "stored with status `incomplete`. Concurrent streams per user (sessions and keys " +
  "together) are capped (MAX_STREAMS_PER_PRINCIPAL), and so are non-streaming answers " +
  "(MAX_CONCURRENT_QUERIES_PER_USER): 429 `rate_limited` beyond, with `detail.policy` " +
  "`concurrent_streams` or `concurrent_queries`.";
