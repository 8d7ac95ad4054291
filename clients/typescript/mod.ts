/**
 * Typed Gatehouse client: openapi-fetch over the generated `paths` types.
 *
 *   const gh = createGatehouseClient("http://localhost:8000", { token });
 *   const { data, error } = await gh.GET("/v1/auth/whoami");
 *
 * `query`, `queryChatbot` and `sendChatMessage` answer JSON or Server-Sent
 * Events, so openapi-fetch types their `data` as either. The helpers below ask
 * for one of the two and are typed accordingly:
 *
 *   const { data } = await queryJson(gh, { prompt: "Hi", mode: "speed" });
 *   data?.answers[0]?.content;                       // typed QueryResponse
 *   for await (const e of queryStream(gh, { prompt: "Hi", mode: "speed" })) {
 *     if (e.event === "chunk") console.log(e.data.delta);
 *   }
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";

type Schemas = components["schemas"];

export interface GatehouseClientOptions {
  /** An access token or API key, sent as `Authorization: Bearer`. */
  token?: string;
  fetch?: typeof globalThis.fetch;
}

export function createGatehouseClient(baseUrl: string, options: GatehouseClientOptions = {}) {
  const client = createClient<paths>({ baseUrl, fetch: options.fetch });
  let token = options.token;
  const auth: Middleware = {
    onRequest({ request }) {
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);
  return Object.assign(client, {
    /** Switch credentials (after login, refresh or minting a key). */
    setToken(next: string | undefined) {
      token = next;
    },
  });
}

export type GatehouseClient = ReturnType<typeof createGatehouseClient>;

/** A JSON answer, or the contract's error body, and the raw response. */
export interface JsonResult<T> {
  data?: T;
  error?: Schemas["Error"];
  response: Response;
}

const JSON_ONLY = { Accept: "application/json" };

/** Narrows a JSON-or-SSE `data` to the JSON body (the request asked for JSON). */
function jsonOf<T>(data: T | string | undefined): T | undefined {
  return typeof data === "string" ? undefined : data;
}

/** `POST /v1/query` answered as JSON (`stream: false`). */
export async function queryJson(
  client: GatehouseClient,
  body: Omit<Schemas["QueryRequest"], "stream">,
): Promise<JsonResult<Schemas["QueryResponse"]>> {
  const { data, error, response } = await client.POST("/v1/query", {
    body: { ...body, stream: false },
    headers: JSON_ONLY,
  });
  return { data: jsonOf(data), error: error as Schemas["Error"] | undefined, response };
}

/** `POST /v1/chatbots/{chatbot_id}/query` answered as JSON. */
export async function queryChatbotJson(
  client: GatehouseClient,
  chatbotId: string,
  body: Omit<Schemas["ChatbotQueryRequest"], "stream">,
): Promise<JsonResult<Schemas["ChatbotQueryResponse"]>> {
  const { data, error, response } = await client.POST("/v1/chatbots/{chatbot_id}/query", {
    params: { path: { chatbot_id: chatbotId } },
    body: { ...body, stream: false },
    headers: JSON_ONLY,
  });
  return { data: jsonOf(data), error: error as Schemas["Error"] | undefined, response };
}

/** `POST /v1/chat/messages` answered as JSON. */
export async function sendChatMessageJson(
  client: GatehouseClient,
  body: Omit<Schemas["ChatMessageRequest"], "stream">,
): Promise<JsonResult<Schemas["ChatMessageResponse"]>> {
  const { data, error, response } = await client.POST("/v1/chat/messages", {
    body: { ...body, stream: false },
    headers: JSON_ONLY,
  });
  return { data: jsonOf(data), error: error as Schemas["Error"] | undefined, response };
}

/** One Server-Sent Event of a streamed answer, its `data` parsed from JSON. */
export type StreamEvent<Done> =
  | { event: "meta"; data: { id?: string; conversation_id: string; models?: string[] } }
  | { event: "chunk"; data: { model: string; delta: string } }
  | { event: "usage"; data: { model: string; usage: Record<string, number> } }
  | { event: "done"; data: Done }
  | { event: "error"; data: { error: string; message: string } };

/** Thrown when a stream could not start (the answer is an error body, not SSE). */
export class GatehouseStreamError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`Gatehouse answered ${status} instead of a stream`);
    this.name = "GatehouseStreamError";
  }
}

async function* sseEvents<Done>(response: Response): AsyncGenerator<StreamEvent<Done>> {
  if (!response.ok || !response.body) {
    throw new GatehouseStreamError(response.status, await response.json().catch(() => null));
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = block.split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.replace(/^data: ?/, "")).join("\n");
        // Comment lines (keep-alives) carry no event.
        if (event) yield { event, data: data ? JSON.parse(data) : null } as StreamEvent<Done>;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** `POST /v1/query` as a stream of events; `done` carries the QueryResponse. */
export async function* queryStream(
  client: GatehouseClient,
  body: Omit<Schemas["QueryRequest"], "stream">,
  init: { signal?: AbortSignal } = {},
): AsyncGenerator<StreamEvent<Schemas["QueryResponse"]>> {
  const { response } = await client.POST("/v1/query", {
    body: { ...body, stream: true },
    headers: { Accept: "text/event-stream" },
    parseAs: "stream",
    signal: init.signal,
  });
  yield* sseEvents<Schemas["QueryResponse"]>(response);
}

/** `POST /v1/chat/messages` as a stream of events; `done` carries the ChatMessageResponse. */
export async function* sendChatMessageStream(
  client: GatehouseClient,
  body: Omit<Schemas["ChatMessageRequest"], "stream">,
  init: { signal?: AbortSignal } = {},
): AsyncGenerator<StreamEvent<Schemas["ChatMessageResponse"]>> {
  const { response } = await client.POST("/v1/chat/messages", {
    body: { ...body, stream: true },
    headers: { Accept: "text/event-stream" },
    parseAs: "stream",
    signal: init.signal,
  });
  yield* sseEvents<Schemas["ChatMessageResponse"]>(response);
}
