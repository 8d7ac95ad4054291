/**
 * A real local HTTP server speaking the OpenAI Chat Completions protocol, for
 * tests of the OpenAI provider and the router (failures, timeouts, aborts).
 *
 * - POST /v1/chat/completions: JSON, or SSE when `stream: true` (`data: {chunk}`
 *   lines, a usage-only chunk when `stream_options.include_usage`, `data: [DONE]`).
 * - GET /v1/models: lists the configured models.
 * - Ways a stream can end badly: `status` (an HTTP error before the first byte),
 *   `hang` (silent before the first byte), `failAfterChunks` + `failWith` (an error
 *   event or a dropped connection after N chunks), `stallAfterChunks` (silent
 *   after N chunks), `usage: false` (no usage reported).
 * - Bearer key checked on every request (401 echoes the received key, like
 *   OpenAI does, so tests can assert that callers redact it).
 *
 * Behaviour is per model name (mutable at runtime through `models`). Every
 * request is recorded with its outcome; a client disconnect is observed through
 * the response body's `cancel`, so tests can assert that aborts reach upstream.
 */

export interface MockModel {
  /** Full reply; default `Hello from <model>`. Streamed word by word. */
  reply?: string;
  /** Delay before each streamed chunk; non-streaming waits chunks × delay. */
  chunkDelayMs?: number;
  /** Answer with this HTTP error status (e.g. 500, 429) instead of completing. */
  status?: number;
  errorMessage?: string;
  /** Streaming: fail after this many content chunks. */
  failAfterChunks?: number;
  /**
   * How a mid-stream failure looks: an SSE error event (default), or the body
   * just ending without finish_reason / [DONE] (a dropped upstream).
   */
  failWith?: "error_event" | "truncate";
  /** Send headers, then nothing until the client goes away. */
  hang?: boolean;
  /** Streaming: send this many content chunks, then nothing until the client goes away. */
  stallAfterChunks?: number;
  /** Reported usage; `false` omits it. Default: prompt = chars of all messages, completion = chunk count. */
  usage?: false | { prompt_tokens: number; completion_tokens: number };
  /** Default "stop". */
  finishReason?: string;
}

export interface MockOpenAIOptions {
  /** Expected bearer key; default "test-key". */
  apiKey?: string;
  models: Record<string, MockModel>;
}

export type RequestOutcome =
  | "pending"
  | "completed"
  /** The client disconnected before the response was complete. */
  | "aborted"
  /** Answered with an HTTP error status. */
  | "rejected"
  /** Still running when the server was closed. */
  | "server_closed";

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: Record<string, unknown> | null;
  model: string | null;
  stream: boolean;
  includeUsage: boolean;
  chunksSent: number;
  outcome: RequestOutcome;
  /** Resolves once `outcome` is final. */
  settled: Promise<RequestOutcome>;
}

export interface MockOpenAI {
  /** Includes `/v1`, ready for the SDK's `baseURL`. */
  baseUrl: string;
  apiKey: string;
  models: Record<string, MockModel>;
  requests: RecordedRequest[];
  /** Chat-completion requests for one model. */
  requestsFor(model: string): RecordedRequest[];
  /** Resolves when at least `n` requests have been received. */
  waitForRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

export function startMockOpenAI(opts: MockOpenAIOptions): MockOpenAI {
  const apiKey = opts.apiKey ?? "test-key";
  const models = opts.models;
  const requests: RecordedRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  /** Stops every in-flight response (used by close()). */
  const shutdown = new AbortController();

  const record = (req: Request, body: Record<string, unknown> | null) => {
    let settle!: (o: RequestOutcome) => void;
    const rec: RecordedRequest = {
      method: req.method,
      path: new URL(req.url).pathname,
      authorization: req.headers.get("authorization"),
      body,
      model: typeof body?.model === "string" ? body.model : null,
      stream: body?.stream === true,
      includeUsage: (body?.stream_options as { include_usage?: boolean } | undefined)
        ?.include_usage === true,
      chunksSent: 0,
      outcome: "pending",
      settled: new Promise((r) => (settle = r)),
    };
    const finish = (o: RequestOutcome) => {
      if (rec.outcome !== "pending") return;
      rec.outcome = o;
      settle(o);
    };
    requests.push(rec);
    for (const w of waiters.filter((w) => requests.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    return { rec, finish };
  };

  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const body = req.method === "POST" ? await req.json().catch(() => null) : null;
    const { rec, finish } = record(req, body);

    if (req.headers.get("authorization") !== `Bearer ${apiKey}`) {
      finish("rejected");
      const got = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      return apiError(401, `Incorrect API key provided: ${got}.`, "invalid_api_key");
    }
    if (req.method === "GET" && path === "/v1/models") {
      finish("completed");
      return Response.json({
        object: "list",
        data: Object.keys(models).map((id) => ({ id, object: "model", owned_by: "mock" })),
      });
    }
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      finish("rejected");
      return apiError(404, `no route ${req.method} ${path}`, "not_found");
    }
    const model = rec.model ? models[rec.model] : undefined;
    if (!rec.model || !model) {
      finish("rejected");
      return apiError(404, `The model '${rec.model}' does not exist`, "model_not_found");
    }
    if (model.status) {
      finish("rejected");
      return apiError(model.status, model.errorMessage ?? `mock failure ${model.status}`, null);
    }
    return respond(rec, finish, rec.model, model, body!, shutdown.signal);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);

  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}/v1`,
    apiKey,
    models,
    requests,
    requestsFor: (model) =>
      requests.filter((r) => r.path === "/v1/chat/completions" && r.model === model),
    waitForRequests: (n) =>
      requests.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
    async close() {
      shutdown.abort();
      await server.shutdown();
    },
  };
}

function apiError(status: number, message: string, code: string | null): Response {
  return Response.json(
    { error: { message, type: status === 429 ? "rate_limit_error" : "api_error", code } },
    { status },
  );
}

/**
 * Streams (or, non-streaming, delays then sends) the reply. The body is always
 * a ReadableStream so a client disconnect shows up as `cancel`, even while
 * "hanging" before any byte.
 */
function respond(
  rec: RecordedRequest,
  finish: (o: RequestOutcome) => void,
  modelName: string,
  model: MockModel,
  body: Record<string, unknown>,
  shutdown: AbortSignal,
): Response {
  const reply = model.reply ?? `Hello from ${modelName}`;
  const chunks = reply.match(/\s*\S+\s*|\s+/g) ?? [];
  const messages = (body.messages as { content?: string }[] | undefined) ?? [];
  const promptChars = messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
  const usage = model.usage === false ? null : {
    prompt_tokens: model.usage?.prompt_tokens ?? promptChars,
    completion_tokens: model.usage?.completion_tokens ?? chunks.length,
    total_tokens: 0,
  };
  if (usage) usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const finishReason = model.finishReason ?? "stop";
  const delay = model.chunkDelayMs ?? 0;
  const id = `chatcmpl-mock-${crypto.randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, created, model: modelName };

  // Aborted by client disconnect (cancel) or server shutdown; stops the producer and its timers.
  const stop = new AbortController();
  const onShutdown = () => stop.abort("server_closed");
  shutdown.addEventListener("abort", onShutdown, { once: true });

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      const sse = (obj: unknown) => send(`data: ${JSON.stringify(obj)}\n\n`);
      const produce = async () => {
        if (model.hang) {
          await waitForAbort(stop.signal);
          return;
        }
        if (!rec.stream) {
          await sleep(delay * chunks.length, stop.signal);
          send(JSON.stringify({
            ...base,
            object: "chat.completion",
            choices: [{
              index: 0,
              message: { role: "assistant", content: reply, refusal: null },
              finish_reason: finishReason,
              logprobs: null,
            }],
            ...(usage ? { usage } : {}),
          }));
          return;
        }
        const chunk = (delta: Record<string, unknown>, finish_reason: string | null) =>
          sse({
            ...base,
            object: "chat.completion.chunk",
            choices: [{ index: 0, delta, finish_reason, logprobs: null }],
          });
        chunk({ role: "assistant", content: "" }, null);
        for (const [i, text] of chunks.entries()) {
          if (model.failAfterChunks !== undefined && i >= model.failAfterChunks) break;
          if (model.stallAfterChunks !== undefined && i >= model.stallAfterChunks) {
            await waitForAbort(stop.signal);
            return;
          }
          await sleep(delay, stop.signal);
          chunk({ content: text }, null);
          rec.chunksSent += 1;
        }
        if (model.failAfterChunks !== undefined && model.failAfterChunks <= chunks.length) {
          if (model.failWith === "truncate") return;
          sse({
            error: { message: model.errorMessage ?? "mock stream failure", type: "server_error" },
          });
          return;
        }
        chunk({}, finishReason);
        if (usage && rec.includeUsage) {
          sse({ ...base, object: "chat.completion.chunk", choices: [], usage });
        }
        send("data: [DONE]\n\n");
      };
      const end = () => {
        if (stop.signal.aborted) {
          finish(stop.signal.reason === "server_closed" ? "server_closed" : "aborted");
        } else {
          finish("completed");
        }
        try {
          controller.close();
        } catch { /* already cancelled by the client, or errored */ }
        shutdown.removeEventListener("abort", onShutdown);
      };
      // A rejected sleep means "stopped"; `end` classifies why.
      produce().then(end, end);
    },
    cancel() {
      // The client went away: this is what "upstream observed the abort" means.
      finish("aborted");
      stop.abort("client_disconnected");
    },
  });

  return new Response(stream, {
    headers: {
      "content-type": rec.stream ? "text/event-stream" : "application/json",
      "cache-control": "no-cache",
    },
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
