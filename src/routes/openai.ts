/**
 * The OpenAI-compatible endpoint: `POST /openai/v1/chat/completions` and
 * `GET /openai/v1/models`, so any OpenAI SDK or tool works with
 * `baseURL = <service>/openai/v1` and a Gatehouse key. Requests become the same
 * turns as `query` (scopes, limits, usage rows, metrics); errors take OpenAI's
 * shape (openai_errors.ts, applied by the app's error handler to this prefix).
 */
import { z } from "@hono/zod-openapi";
import { completionBody, openAiStreamResponse } from "../chat/openai_turn.ts";
import { Turn, type TurnInput } from "../chat/turn.ts";
import { ApiError } from "../errors.ts";
import type { ChatMessage, QueryMode } from "../llm/mod.ts";
import { OpenAiErrorSchema } from "./openai_errors.ts";
import { type ErrorShape, type ErrorStatus, jsonResponse } from "./openapi_responses.ts";
import { authenticated, operation } from "./route_presets.ts";

const MAX_OUTPUT_TOKENS = 65_536;
const MAX_TEXT = 1_000_000;
const ALIAS_PREFIX = "gatehouse/";
const ALIASES = {
  "gatehouse/speed": "speed",
  "gatehouse/balanced": "balanced",
  "gatehouse/chatbot": "balanced",
} as const satisfies Record<string, QueryMode>;
const CHATBOT_HEADER = "x-gatehouse-chatbot";
const CONVERSATION_HEADER = "X-Gatehouse-Conversation-Id";

const TextPart = z.object({
  type: z.literal("text"),
  text: z.string().max(MAX_TEXT),
}).openapi("OpenAiTextPart");

const Message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]).openapi({ example: "user" }),
  content: z.union([z.string().max(MAX_TEXT), z.array(TextPart).max(256)]).nullable().openapi({
    description: "Text, or a list of text parts (other part types are refused).",
    example: "Say hello in French.",
  }),
  name: z.string().max(256).optional(),
}).openapi("OpenAiMessage");

const MaxTokens = z.number().int().min(1).max(MAX_OUTPUT_TOKENS).nullable().optional().openapi({
  format: "int32",
});

// Unknown fields are ignored (zod strips them), as OpenAI's other fields must be.
const ChatCompletionRequest = z.object({
  model: z.string().min(1).max(256).openapi({
    description: "A model id from listModels, or `gatehouse/speed`, `gatehouse/balanced` " +
      "(routing as in `query`), or `gatehouse/chatbot` (the chatbot's models; needs a " +
      "chatbot-bound key or the X-Gatehouse-Chatbot header). Unknown: 404 `model_not_found`.",
    example: "gatehouse/balanced",
  }),
  messages: z.array(Message).min(1).max(1000).openapi({
    description: "The conversation; the last message is the user's. Together at most " +
      "MAX_PROMPT_CHARS characters.",
  }),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().nullable().optional() }).nullable()
    .optional().openapi({ description: "`include_usage`: a last chunk with `usage`." }),
  max_tokens: MaxTokens.openapi({ description: "Output limit (older name)." }),
  max_completion_tokens: MaxTokens.openapi({ description: "Output limit (wins over max_tokens)." }),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional().openapi({
    description: "Accepted, not forwarded.",
  }),
  stop: z.union([z.string().max(256), z.array(z.string().max(256)).max(4)]).nullable().optional()
    .openapi({ description: "Accepted, not forwarded." }),
  user: z.string().max(256).optional().openapi({ description: "Accepted, not forwarded." }),
  store: z.boolean().nullable().optional().openapi({
    description: "Store the exchange as a conversation (always with a chatbot).",
  }),
  n: z.number().int().min(-2_147_483_648).max(2_147_483_647).nullable().optional().openapi({
    format: "int32",
    description: "Only 1 is supported; anything else is a 400.",
  }),
}).openapi("ChatCompletionRequest", {
  example: {
    model: "gatehouse/balanced",
    messages: [{ role: "user", content: "Say hello in French." }],
  },
});

const Usage = z.object({
  prompt_tokens: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ format: "int64" }),
  completion_tokens: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({
    format: "int64",
  }),
  total_tokens: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ format: "int64" }),
  cost_usd: z.number().min(0).max(1_000_000_000).openapi({
    description: "Gatehouse's addition: US dollars charged for this request.",
  }),
}).openapi("OpenAiUsage");

const ChatCompletion = z.object({
  id: z.string().max(64).openapi({ example: "chatcmpl-3f1c2a9e-8d7b-4c1e-9f3a-2b6d8e4c1a7f" }),
  object: z.literal("chat.completion"),
  created: z.number().int().min(0).max(99_999_999_999).openapi({ format: "int64" }),
  model: z.string().max(128).openapi({ description: "The model that answered." }),
  choices: z.array(z.object({
    index: z.number().int().min(0).max(0).openapi({ format: "int32" }),
    message: z.object({
      role: z.literal("assistant"),
      content: z.string().max(10_000_000),
      refusal: z.null(),
    }),
    finish_reason: z.string().max(64).openapi({ example: "stop" }),
    logprobs: z.null(),
  })).max(1),
  usage: Usage,
  system_fingerprint: z.null(),
}).openapi("ChatCompletion");

const ChunkStream = z.string().max(100_000_000).openapi({
  description: "`data: {chat.completion.chunk}` lines: a role chunk, content deltas, a chunk " +
    "with `finish_reason`, with `stream_options.include_usage` a chunk with `choices: []` and " +
    "`usage`, then `data: [DONE]`. A failure after content began ends it with " +
    '`data: {"error": {...}}` and no `[DONE]`.',
  example: 'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","choices":' +
    '[{"index":0,"delta":{"content":"Bonjour"},"finish_reason":null}]}\n\ndata: [DONE]\n\n',
});

/** The completion of the request example, as JSON and as its chunks (with include_usage). */
const EXAMPLE_COMPLETION: z.output<typeof ChatCompletion> = {
  id: "chatcmpl-581b9499-3223-4acf-94c1-51b6c04e5cf9",
  object: "chat.completion",
  created: 1795435200,
  model: "gpt-4o-mini",
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content: "Access is granted by holding an unforgeable token (a capability), not by " +
        "who you are.",
      refusal: null,
    },
    finish_reason: "stop",
    logprobs: null,
  }],
  usage: { prompt_tokens: 14, completion_tokens: 17, total_tokens: 31, cost_usd: 0.0000123 },
  system_fingerprint: null,
};

function exampleChunks(): string {
  const { id, created, model, usage } = EXAMPLE_COMPLETION;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${
      JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        system_fingerprint: null,
        choices,
        usage: null,
        ...extra,
      })
    }\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta: d,
    finish_reason: finish,
    logprobs: null,
  });
  return [
    chunk([delta({ role: "assistant", content: "" })]),
    ...[
      "Access is granted ",
      "by holding an unforgeable token ",
      "(a capability), ",
      "not by ",
      "who you are.",
    ]
      .map((content) => chunk([delta({ content })])),
    chunk([delta({}, "stop")]),
    chunk([], { usage }),
    "data: [DONE]\n\n",
  ].join("");
}

const ModelList = z.object({
  object: z.literal("list"),
  data: z.array(z.object({
    id: z.string().max(128).openapi({ example: "echo-fast" }),
    object: z.literal("model"),
    created: z.number().int().min(0).max(99_999_999_999).openapi({ format: "int64" }),
    owned_by: z.string().max(64).openapi({ example: "echo" }),
  })).max(1000),
}).openapi("OpenAiModelList");

const ChatbotHeader = z.object({
  [CHATBOT_HEADER]: z.uuid().max(36).optional().openapi({
    description: "Answer as this chatbot: its system prompt and the user context it may see " +
      "go first. A chatbot-bound key uses its own chatbot without it.",
    example: "3f1c2a9e-8d7b-4c1e-9f3a-2b6d8e4c1a7f",
  }),
});

const errorText: Partial<Record<ErrorStatus, string>> = {
  400: "Malformed JSON, or `n` other than 1.",
  401: "Missing or invalid credentials (`invalid_api_key`).",
  403: "Not allowed (the `query` scope is missing, or the account is disabled).",
  404: "Unknown model (`model_not_found`) or chatbot.",
  413: "Request body too large.",
  415: "Body must be application/json.",
  422: "Request failed validation; `param` names the field.",
  429: "Rate limit, quota or budget exhausted (`rate_limit_exceeded`); see Retry-After.",
  500: "Unexpected error; the message is generic.",
  503: "No model could answer, or a dependency is down.",
};

/** Errors here take OpenAI's shape, which its SDKs parse. */
const openAiErrors: ErrorShape = { schema: OpenAiErrorSchema, descriptions: errorText };

type CompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** The text of a message; null content (an assistant's tool call) is empty. */
function textOf(content: CompletionRequest["messages"][number]["content"]): string {
  if (content === null) return "";
  if (typeof content === "string") return content;
  return content.map((part) => part.text).join("");
}

/** Which models answer: an alias's routing, or the one model named. */
function routing(
  model: string,
  models: { has(id: string): boolean },
  chatbotId: string | undefined,
): Pick<TurnInput, "mode" | "models"> {
  if (model in ALIASES) {
    if (model === "gatehouse/chatbot" && !chatbotId) {
      throw new ApiError(
        "bad_request",
        "gatehouse/chatbot needs a chatbot: use a chatbot-bound key or the X-Gatehouse-Chatbot " +
          "header.",
        { param: "model" },
      );
    }
    return { mode: ALIASES[model as keyof typeof ALIASES] };
  }
  if (!model.startsWith(ALIAS_PREFIX) && models.has(model)) {
    return { mode: "balanced", models: [model] };
  }
  throw new ApiError("not_found", `The model '${model}' does not exist.`, {
    param: "model",
    code: "model_not_found",
  });
}

/** The turn a completion request asks for; refuses what Gatehouse cannot do. */
function turnInput(
  body: CompletionRequest,
  routed: Pick<TurnInput, "mode" | "models">,
  chatbotId: string | undefined,
  maxPromptChars: number,
): TurnInput {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw new ApiError("bad_request", "Only n = 1 is supported.", { param: "n" });
  }
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: textOf(m.content),
  }));
  const last = messages.at(-1)!;
  if (last.role !== "user") {
    throw new ApiError("validation_error", "The last message must be the user's.", {
      issues: [{ path: ["messages", messages.length - 1, "role"], message: "must be user" }],
    });
  }
  const chars = messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > maxPromptChars) {
    throw new ApiError("validation_error", `The messages exceed ${maxPromptChars} characters.`, {
      issues: [{ path: ["messages"], message: `must be at most ${maxPromptChars} characters` }],
    });
  }
  return {
    ...routed,
    message: last.content,
    clientHistory: messages.slice(0, -1),
    chatbotId,
    temperature: body.temperature ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    store: body.store === true || chatbotId !== undefined,
  };
}

export const openAiRoutes = [
  operation({
    method: "post",
    path: "/openai/v1/chat/completions",
    operationId: "createChatCompletion",
    tags: ["openai"],
    summary: "Create a chat completion (OpenAI-compatible)",
    description: "OpenAI's Chat Completions request and response, streaming (`stream: true`) and " +
      "not; the same `query` scope, rate limits, quotas, usage rows and metrics as `query`. " +
      "With a chatbot (a bound key, or X-Gatehouse-Chatbot) its system prompt and the user " +
      "context it may see go first, whichever model is named. The exchange is stored as a " +
      "conversation with `store: true` or a chatbot; usage always. Other OpenAI fields are " +
      "accepted and ignored. Concurrent streams (MAX_STREAMS_PER_PRINCIPAL) and answers " +
      "(MAX_CONCURRENT_QUERIES_PER_USER) per user are capped: 429 beyond.",
    access: authenticated({ scopes: ["query"] }),
    errorShape: openAiErrors,
    request: {
      headers: ChatbotHeader,
      body: {
        required: true,
        content: {
          "application/json": {
            schema: ChatCompletionRequest,
            // What "Try it out" prefills: answers on a fresh embedded instance.
            example: {
              model: "gatehouse/speed",
              messages: [{ role: "user", content: "What is a capability-based security model?" }],
            },
          },
        },
      },
    },
    responses: {
      200: {
        description: "The completion, or its chunks as Server-Sent Events.",
        headers: {
          [CONVERSATION_HEADER]: {
            description: "The stored conversation (with `store: true` or a chatbot).",
            schema: { type: "string" as const, format: "uuid", maxLength: 36 },
          },
        },
        content: {
          "application/json": { schema: ChatCompletion, example: EXAMPLE_COMPLETION },
          "text/event-stream": { schema: ChunkStream, example: exampleChunks() },
        },
      },
    },
    errors: [400, 404, 413, 415, 422, 503],
  }, async (c) => {
    const services = c.get("services");
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const chatbotId = c.req.valid("header")[CHATBOT_HEADER] ?? principal.chatbotId;
    const input = turnInput(
      body,
      routing(body.model, services.models, chatbotId),
      chatbotId,
      services.config.MAX_PROMPT_CHARS,
    );
    const chat = services.chat;
    if (body.stream !== true) {
      // The same caps as query: concurrent answers per user.
      const release = chat.queries.acquire(principal);
      try {
        const turn = await Turn.start(chat, principal, input, [c.req.raw.signal]);
        if (input.store) c.header(CONVERSATION_HEADER, turn.conversationId);
        const record = await turn.run();
        return c.json(completionBody(turn, record, Math.floor(Date.now() / 1000)), 200);
      } finally {
        release();
      }
    }
    const release = chat.streams.acquire(principal);
    try {
      const shutdown = services.lifecycle.shutdownSignal;
      const turn = await Turn.start(chat, principal, { ...input, streamed: true }, [
        c.req.raw.signal,
        shutdown,
      ]);
      if (input.store) c.header(CONVERSATION_HEADER, turn.conversationId);
      return await openAiStreamResponse(c, turn, {
        includeUsage: body.stream_options?.include_usage === true,
        keepAliveMs: chat.keepAliveMs,
        release,
        shutdown,
        log: services.log,
      });
    } catch (error) {
      release();
      throw error;
    }
  }),

  operation({
    method: "get",
    path: "/openai/v1/models",
    operationId: "listOpenAiModels",
    tags: ["openai"],
    summary: "List models (OpenAI-compatible)",
    description: "The configured models and the routing aliases `gatehouse/speed` and " +
      "`gatehouse/balanced` (and `gatehouse/chatbot` for a chatbot-bound key), in OpenAI's list " +
      "shape.",
    access: authenticated(),
    errorShape: openAiErrors,
    responses: {
      200: jsonResponse(ModelList, "The models.", {
        example: {
          object: "list",
          data: [
            { id: "gpt-4o", object: "model", created: 1795435200, owned_by: "openai" },
            { id: "gpt-4o-mini", object: "model", created: 1795435200, owned_by: "openai" },
            { id: "echo-fast", object: "model", created: 1795435200, owned_by: "echo" },
            {
              id: "gatehouse/speed",
              object: "model",
              created: 1795435200,
              owned_by: "gatehouse",
            },
            {
              id: "gatehouse/balanced",
              object: "model",
              created: 1795435200,
              owned_by: "gatehouse",
            },
          ],
        },
      }),
    },
  }, (c) => {
    const services = c.get("services");
    const created = Math.floor(services.startedAt / 1000);
    const aliases = Object.keys(ALIASES).filter((id) =>
      id !== "gatehouse/chatbot" || c.get("principal").chatbotId !== undefined
    );
    const data = [
      ...services.models.list().map((m) => ({
        id: m.id,
        object: "model" as const,
        created,
        owned_by: m.provider,
      })),
      ...aliases.map((id) => ({ id, object: "model" as const, created, owned_by: "gatehouse" })),
    ];
    return c.json({ object: "list" as const, data }, 200);
  }),
];
