/**
 * Provider for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM,
 * Ollama, LiteLLM, ...), built on the official `openai` SDK; the SDK does the
 * HTTP and SSE work, this class only maps requests, usage and errors.
 *
 * Choices worth knowing:
 * - `maxRetries: 0`: the router's fallback to the next model *is* the retry
 *   policy; SDK retries would silently burn the per-model time budget.
 * - `maxTokens` is sent as `max_completion_tokens` (OpenAI's current name; the
 *   deprecated `max_tokens` is rejected by OpenAI reasoning models, while
 *   compatible servers that do not know the new name simply ignore it).
 * - Usage: `prompt_tokens`/`completion_tokens` when reported (streams request it
 *   via `stream_options.include_usage`); otherwise estimated with tokens.ts.
 * - Errors: always `ProviderError`; messages are redacted so neither the
 *   configured API key nor anything shaped like an `sk-` key can leak.
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "openai";
import { isTimeoutReason } from "./abort.ts";
import { ProviderError } from "./errors.ts";
import type {
  Completion,
  CompletionRequest,
  LlmProvider,
  StreamEvent,
  TokenUsage,
} from "./provider.ts";
import { estimatePromptTokens, estimateTokens } from "./tokens.ts";

export interface OpenAIProviderOptions {
  /** Provider name from configuration; used in errors and model metadata. */
  name: string;
  /** e.g. "https://api.openai.com/v1" (the `/chat/completions` path is appended). */
  baseUrl: string;
  /** Optional: local servers often need none. */
  apiKey?: string;
  /** SDK-level timeout (connect + headers) — a safety net behind the router's deadline. */
  timeoutMs: number;
  /** Defaults to 0, see the module comment. */
  maxRetries?: number;
}

/** Sent when no key is configured, so the SDK never falls back to $OPENAI_API_KEY. */
const NO_KEY = "no-key-configured";
const MAX_MESSAGE_LENGTH = 300;

export class OpenAIProvider implements LlmProvider {
  readonly name: string;
  readonly development = false;
  readonly #client: OpenAI;
  readonly #apiKey: string | undefined;

  constructor(opts: OpenAIProviderOptions) {
    this.name = opts.name;
    this.#apiKey = opts.apiKey;
    this.#client = new OpenAI({
      baseURL: opts.baseUrl,
      apiKey: opts.apiKey ?? NO_KEY,
      // Explicit nulls: do not forward OPENAI_ORG_ID / OPENAI_PROJECT_ID from the
      // environment to third-party endpoints.
      organization: null,
      project: null,
      timeout: opts.timeoutMs,
      maxRetries: opts.maxRetries ?? 0,
    });
  }

  async complete(req: CompletionRequest): Promise<Completion> {
    try {
      const res = await this.#client.chat.completions.create(
        { ...this.#body(req), stream: false },
        { signal: req.signal },
      );
      const choice = res.choices[0];
      if (!choice) {
        throw new ProviderError(
          this.name,
          "upstream_error",
          `${this.name}: response has no choices`,
        );
      }
      const text = choice.message.content ?? "";
      return {
        text,
        finishReason: choice.finish_reason ?? "stop",
        usage: this.#usage(req, text, res.usage),
      };
    } catch (err) {
      throw this.#toProviderError(err, req.signal);
    }
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamEvent> {
    let text = "";
    let finishReason: string | null = null;
    let reported: OpenAI.CompletionUsage | null | undefined;
    try {
      const chunks = await this.#client.chat.completions.create(
        { ...this.#body(req), stream: true, stream_options: { include_usage: true } },
        { signal: req.signal },
      );
      // Leaving this loop early (consumer `return()`) makes the SDK abort the request.
      for await (const chunk of chunks) {
        if (chunk.usage) reported = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue; // the usage-only final chunk has no choices
        const delta = choice.delta?.content;
        if (delta) {
          text += delta;
          yield { type: "delta", text: delta };
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (err) {
      throw this.#toProviderError(err, req.signal);
    }
    if (finishReason === null) {
      // The SDK ends the iteration quietly when the request is aborted.
      if (req.signal.aborted) throw this.#toProviderError(undefined, req.signal);
      throw new ProviderError(
        this.name,
        "upstream_error",
        `${this.name}: stream ended before a finish_reason`,
      );
    }
    yield {
      type: "done",
      finishReason,
      usage: this.#usage(req, text, reported),
      ...(reported ? {} : { usageEstimated: true }),
    };
  }

  #body(req: CompletionRequest) {
    return {
      model: req.model,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      temperature: req.temperature,
      max_completion_tokens: req.maxTokens,
    };
  }

  #usage(
    req: CompletionRequest,
    text: string,
    reported: OpenAI.CompletionUsage | null | undefined,
  ): TokenUsage {
    return {
      input_tokens: reported?.prompt_tokens ?? estimatePromptTokens(req.messages),
      output_tokens: reported?.completion_tokens ?? estimateTokens(text),
    };
  }

  #toProviderError(err: unknown, signal: AbortSignal): ProviderError {
    if (err instanceof ProviderError) return err;
    // Our signal is the most reliable source: the SDK reports both caller aborts
    // and deadline aborts as APIUserAbortError (or ends a stream silently).
    if (signal.aborted) {
      return isTimeoutReason(signal.reason)
        ? new ProviderError(this.name, "timeout", `${this.name}: request timed out`)
        : new ProviderError(this.name, "aborted", `${this.name}: request aborted`);
    }
    if (err instanceof APIUserAbortError) {
      return new ProviderError(this.name, "aborted", `${this.name}: request aborted`);
    }
    if (err instanceof APIConnectionTimeoutError) {
      return new ProviderError(this.name, "timeout", `${this.name}: request timed out`);
    }
    if (err instanceof APIConnectionError) {
      return new ProviderError(this.name, "connection_error", `${this.name}: connection failed`);
    }
    if (err instanceof APIError) {
      const status = err.status;
      const code = status === 429
        ? "rate_limited"
        : status === 401 || status === 403
        ? "auth_failed"
        : status === 400 || status === 404 || status === 422
        ? "bad_request"
        : "upstream_error";
      return new ProviderError(
        this.name,
        code,
        `${this.name}: ${this.#redact(err.message)}`,
        status,
      );
    }
    const detail = err instanceof Error ? err.message : String(err);
    return new ProviderError(
      this.name,
      "upstream_error",
      `${this.name}: invalid response: ${this.#redact(detail)}`,
    );
  }

  /** Removes credentials from upstream-provided text (OpenAI echoes partial keys on 401). */
  #redact(message: string): string {
    let out = message;
    if (this.#apiKey && this.#apiKey.length >= 4) out = out.replaceAll(this.#apiKey, "[redacted]");
    out = out.replace(/sk-[A-Za-z0-9_*.-]{4,}/g, "sk-[redacted]");
    return out.length > MAX_MESSAGE_LENGTH ? `${out.slice(0, MAX_MESSAGE_LENGTH)}…` : out;
  }
}
