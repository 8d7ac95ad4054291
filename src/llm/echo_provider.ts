/**
 * Built-in development provider: deterministic, offline, free. It answers
 * `Echo: <last user message>` and streams it word by word with a per-model
 * simulated speed, so routing modes (speed vs. quality) behave observably
 * without any upstream.
 *
 * Token usage uses the shared estimate (tokens.ts: ceil(chars / 4)).
 * `maxTokens` truncates the reply to maxTokens * 4 characters (finish "length").
 * `temperature` is ignored: output is a pure function of the input.
 */
import { abortReason, isTimeoutReason, sleep } from "./abort.ts";
import { ProviderError } from "./errors.ts";
import type {
  ChatMessage,
  Completion,
  CompletionRequest,
  LlmProvider,
  StreamEvent,
} from "./provider.ts";
import { estimatePromptTokens, estimateTokens } from "./tokens.ts";

export interface EchoModelSpec {
  id: string;
  /** 1 = best. */
  rank: number;
  /** Simulated generation speed: delay before each streamed word. */
  wordDelayMs: number;
  /**
   * Failure injection for tests and demos: throw an `upstream_error` after this
   * many words. Only ever set by code that constructs an EchoProvider
   * explicitly; the default models and env configuration cannot enable it, so it
   * is not a production backdoor.
   */
  failAfterWords?: number;
}

export const ECHO_PROVIDER_NAME = "echo";

/** The models registered when `LlmSettings.echoModels` is true. */
export const DEFAULT_ECHO_MODELS: readonly EchoModelSpec[] = [
  { id: "echo-smart", rank: 1, wordDelayMs: 8 },
  { id: "echo-fast", rank: 2, wordDelayMs: 0 },
];

/** The reply text for a conversation (exported for tests and docs). */
export function echoReply(messages: readonly ChatMessage[]): string {
  const lastUser = messages.findLast((m) => m.role === "user");
  return `Echo: ${lastUser?.content ?? ""}`;
}

/** Splits text into word chunks (word + trailing whitespace); joining them restores the text. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

export class EchoProvider implements LlmProvider {
  readonly name = ECHO_PROVIDER_NAME;
  readonly development = true;
  readonly #models: Map<string, EchoModelSpec>;

  constructor(readonly models: readonly EchoModelSpec[] = DEFAULT_ECHO_MODELS) {
    this.#models = new Map(models.map((m) => [m.id, m]));
  }

  async complete(req: CompletionRequest): Promise<Completion> {
    // Same code path as streaming so both have identical timing and output.
    let text = "";
    for await (const event of this.stream(req)) {
      if (event.type === "delta") text += event.text;
      else return { text, finishReason: event.finishReason, usage: event.usage };
    }
    throw new ProviderError(this.name, "upstream_error", "echo stream ended without result");
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamEvent> {
    const spec = this.#models.get(req.model);
    if (!spec) {
      throw new ProviderError(this.name, "bad_request", `echo: unknown model "${req.model}"`, 404);
    }
    const full = echoReply(req.messages);
    const limit = req.maxTokens !== undefined ? Math.max(0, req.maxTokens) * 4 : Infinity;
    const text = full.length > limit ? full.slice(0, limit) : full;
    const words = splitWords(text);

    let emitted = "";
    for (const [i, word] of words.entries()) {
      await this.#pace(spec, req.signal);
      if (spec.failAfterWords !== undefined && i >= spec.failAfterWords) {
        throw new ProviderError(
          this.name,
          "upstream_error",
          `echo: ${spec.id} failed (injected)`,
          500,
        );
      }
      emitted += word;
      yield { type: "delta", text: word };
    }
    if (spec.failAfterWords !== undefined && words.length <= spec.failAfterWords) {
      // A reply shorter than the failure point still fails: the model is "broken".
      throw new ProviderError(
        this.name,
        "upstream_error",
        `echo: ${spec.id} failed (injected)`,
        500,
      );
    }
    yield {
      type: "done",
      finishReason: text.length < full.length ? "length" : "stop",
      usage: {
        input_tokens: estimatePromptTokens(req.messages),
        output_tokens: estimateTokens(emitted),
      },
    };
  }

  /** Waits one word's worth of simulated latency; aborts immediately on the signal. */
  async #pace(spec: EchoModelSpec, signal: AbortSignal): Promise<void> {
    try {
      if (spec.wordDelayMs > 0) await sleep(spec.wordDelayMs, signal);
      else if (signal.aborted) throw abortReason(signal);
    } catch (err) {
      const timeout = isTimeoutReason(err);
      throw new ProviderError(
        this.name,
        timeout ? "timeout" : "aborted",
        timeout ? `echo: ${spec.id} timed out` : `echo: ${spec.id} aborted`,
      );
    }
  }
}
