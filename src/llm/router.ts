/**
 * Query router: picks models per mode, runs them with per-model deadlines,
 * falls back on failure, fans out in quality mode and feeds health back into
 * the registry.
 *
 * Modes (unavailable models — open circuit breaker — are skipped everywhere):
 * - speed:    one answer; by ascending EWMA latency once both of two models
 *             were measured; before that by declared speed (`speed_rank`), then
 *             unmeasured first (so every model gets measured once), then rank;
 *             falls back along that order on failure.
 * - balanced: one answer; rank order; falls back down the ranking on failure.
 * - quality:  the top-ranked `maxModels` models in parallel, no fallback.
 *
 * Both APIs share one code path: every upstream call is streamed, so a caller
 * abort still yields the partial text ("incomplete") for storage. `runQuery`
 * simply drains `streamQuery`.
 *
 * Streams end honestly: an upstream that sends nothing for `streamIdleTimeoutMs`
 * has failed (a timeout), and in a `streamed` query a model that fails after its
 * first content gets no fallback: its answer is `incomplete` with the error.
 *
 * Health accounting: success → latency sample; error/timeout → failure,
 * attributed to the query's principal (one caller alone never opens a model's
 * breaker for others; see health.ts); caller aborts are nobody's fault and are
 * not recorded.
 */
import { timeoutReason, withDeadline } from "./abort.ts";
import { AsyncQueue } from "./async_queue.ts";
import {
  AllModelsFailedError,
  InvalidQueryError,
  ProviderError,
  UnknownModelError,
} from "./errors.ts";
import {
  CallRefusedError,
  type CallTicket,
  DEFAULT_MAX_OUTPUT_TOKENS,
  type PlannedCall,
} from "./gate.ts";
import { byRank, costUsd, type ModelInfo, type ModelRegistry } from "./models.ts";
import type { TokenUsage } from "./provider.ts";
import {
  type Answer,
  type AnswerError,
  DEFAULT_QUALITY_MODELS,
  MAX_QUALITY_MODELS,
  QUERY_MODES,
  type QueryEvent,
  type QueryOptions,
  type QueryResult,
  type QueryStream,
} from "./query_types.ts";
import { estimatePromptTokens, estimateTokens } from "./tokens.ts";

export interface RouterOptions {
  /** Monotonic ms clock for latency; injectable for tests. Default performance.now. */
  now?: () => number;
  /** Output cap when a query names none (DEFAULT_MAX_OUTPUT_TOKENS). */
  defaultMaxOutputTokens?: number;
  /** An upstream silent this long (before or between chunks) has failed. Default 30 000. */
  streamIdleTimeoutMs?: number;
}

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 30_000;

/** Models to try: each lane runs concurrently and walks its models in order until one answers. */
type Plan = ModelInfo[][];

/** A lane head's reservation: made before the stream starts, so a refusal can still be a 429. */
type Reserved = { ticket: CallTicket } | { refused: CallRefusedError };

export class LlmRouter {
  readonly #now: () => number;
  readonly #defaultMaxOutputTokens: number;
  readonly #idleMs: number;

  constructor(readonly registry: ModelRegistry, opts: RouterOptions = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#defaultMaxOutputTokens = opts.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
    this.#idleMs = opts.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
  }

  /**
   * Runs a query to completion. Rejects with UnknownModelError / InvalidQueryError
   * (bad request) or AllModelsFailedError (nothing answered and not aborted).
   * On abort it resolves with `aborted: true` and the partial answers.
   */
  async runQuery(opts: QueryOptions): Promise<QueryResult> {
    const stream = await this.openQuery(opts);
    for await (const _event of stream) {
      // Drained for its side effects; the result carries everything.
    }
    const result = await stream.result;
    if (result.selected === null && !result.aborted) throw new AllModelsFailedError(result.answers);
    return result;
  }

  /**
   * Validates, plans and reserves the first model of every lane with the spend
   * gate — so UnknownModelError, InvalidQueryError, AllModelsFailedError (every
   * candidate unavailable) and a refusal of every reservation (the gate's
   * `reason`) reject here, before a route commits to a streaming response —
   * then streams events lazily. A lane whose head was refused answers with
   * `error.code` "rate_limited" while the others run.
   */
  async openQuery(opts: QueryOptions): Promise<QueryStream> {
    const plan = this.#plan(opts);
    const heads = await Promise.all(plan.map((lane) => this.#reserve(lane[0]!, opts)));
    const refused = heads.find((h): h is { refused: CallRefusedError } => "refused" in h);
    if (refused && heads.every((h) => "refused" in h)) throw refused.refused.reason;
    return this.#execute(opts, plan, heads);
  }

  /** The call as the gate sees it: estimated prompt plus the output cap sent upstream. */
  #planned(model: ModelInfo, opts: QueryOptions): PlannedCall {
    return {
      model,
      promptTokens: estimatePromptTokens(opts.messages),
      outputCap: this.#outputCap(opts),
    };
  }

  #outputCap(opts: QueryOptions): number {
    return opts.maxTokens ?? this.#defaultMaxOutputTokens;
  }

  async #reserve(model: ModelInfo, opts: QueryOptions): Promise<Reserved> {
    try {
      return { ticket: await opts.gate.reserve(this.#planned(model, opts)) };
    } catch (error) {
      if (error instanceof CallRefusedError) return { refused: error };
      return {
        refused: new CallRefusedError("budget_unavailable", "spend reservation failed", error),
      };
    }
  }

  #plan(opts: QueryOptions): Plan {
    if (!QUERY_MODES.includes(opts.mode)) {
      throw new InvalidQueryError(`unknown mode "${opts.mode}"`);
    }
    if (opts.messages.length === 0) throw new InvalidQueryError("messages must not be empty");
    if (
      opts.maxModels !== undefined &&
      (!Number.isInteger(opts.maxModels) || opts.maxModels < 1 ||
        opts.maxModels > MAX_QUALITY_MODELS)
    ) {
      throw new InvalidQueryError(
        `max_models must be an integer between 1 and ${MAX_QUALITY_MODELS}`,
      );
    }

    let pool: ModelInfo[];
    if (opts.models !== undefined) {
      const ids = [...new Set(opts.models)];
      if (ids.length === 0) throw new InvalidQueryError("models must not be empty when given");
      const unknown = ids.filter((id) => !this.registry.has(id));
      if (unknown.length > 0) throw new UnknownModelError(unknown);
      pool = ids.map((id) => this.registry.get(id)!);
    } else {
      pool = this.registry.list();
    }

    const healthy = pool.filter((m) =>
      this.registry.health(m.id, opts.principal).status !== "unavailable"
    );
    if (healthy.length === 0) {
      throw new AllModelsFailedError(pool.map((m) => this.#unavailableAnswer(m, opts.principal)));
    }

    switch (opts.mode) {
      case "speed":
        return [healthy.sort((a, b) => this.#bySpeed(a, b))];
      case "balanced":
        return [healthy.sort(byRank)];
      case "quality": {
        const n = opts.maxModels ??
          (opts.models ? Math.min(pool.length, MAX_QUALITY_MODELS) : DEFAULT_QUALITY_MODELS);
        return healthy.sort(byRank).slice(0, n).map((m) => [m]);
      }
    }
  }

  #bySpeed(a: ModelInfo, b: ModelInfo): number {
    const la = this.registry.health(a.id).latency_ms;
    const lb = this.registry.health(b.id).latency_ms;
    if (la !== null && lb !== null) return la - lb || byRank(a, b);
    // Not both measured: what the configuration declares beats exploring.
    const sa = a.speed_rank ?? Number.MAX_SAFE_INTEGER;
    const sb = b.speed_rank ?? Number.MAX_SAFE_INTEGER;
    if (sa !== sb) return sa - sb;
    if (la === null && lb !== null) return -1; // unmeasured first: explore once
    if (lb === null && la !== null) return 1;
    return byRank(a, b);
  }

  #execute(opts: QueryOptions, plan: Plan, heads: Reserved[]): QueryStream {
    // `stop` lets a consumer that leaves early cancel everything in flight.
    const stop = new AbortController();
    const signal = AbortSignal.any([opts.signal, stop.signal]);
    const queue = new AsyncQueue<QueryEvent>();
    const laneAnswers: Answer[][] = plan.map(() => []);
    const models = plan.map((lane) => lane[0]!.id);

    let settle!: (r: QueryResult) => void;
    const result = new Promise<QueryResult>((resolve) => (settle = resolve));
    const summarize = (): QueryResult => {
      const answers = laneAnswers.flat();
      return {
        answers,
        selected: this.#select(answers),
        aborted: answers.some((a) => a.status === "incomplete" && !a.error),
      };
    };

    const runLanes = () =>
      Promise.all(
        plan.map((lane, i) => this.#runLane(lane, heads[i]!, laneAnswers[i]!, opts, signal, queue)),
      ).finally(() => queue.close());

    async function* events(): AsyncGenerator<QueryEvent> {
      const lanesDone = runLanes();
      lanesDone.catch(() => undefined); // observed below; avoids a transient "unhandled" report
      let finished = false;
      try {
        yield { type: "meta", mode: opts.mode, models };
        yield* queue;
        await lanesDone;
        finished = true;
        const r = summarize();
        settle(r);
        yield { type: "done", ...r };
      } finally {
        // Early exit cancels upstream calls and keeps partial text; after a normal
        // end there is nothing left to cancel (and a DOMException costs a stack trace).
        if (!finished) {
          stop.abort(new DOMException("query stream closed by consumer", "AbortError"));
        }
        queue.close();
        // Lanes never reject by design; if a bug makes them, the try block rethrows it.
        await lanesDone.catch(() => undefined);
        settle(summarize()); // no-op when already settled
      }
    }

    const iterable = events();
    return {
      models,
      result,
      [Symbol.asyncIterator]: () => iterable,
    };
  }

  /**
   * Tries the lane's models in order until one completes or the caller aborts.
   * Each model is reserved before its call; a refused reservation ends the lane.
   */
  async #runLane(
    lane: ModelInfo[],
    head: Reserved,
    out: Answer[],
    opts: QueryOptions,
    signal: AbortSignal,
    queue: AsyncQueue<QueryEvent>,
  ): Promise<void> {
    let i = 0;
    let reserved: Reserved = head;
    while (i < lane.length) {
      const model = lane[i]!;
      if (i > 0) reserved = await this.#reserve(model, opts);
      if ("refused" in reserved) {
        const answer = this.#refusedAnswer(model, reserved.refused);
        out.push(answer);
        queue.push({ type: "model_error", model: model.id, error: answer.error!, fallback: null });
        return;
      }
      const answer = await this.#attempt(model, opts, signal, queue, reserved.ticket);
      out.push(answer);
      if (answer.status === "incomplete" && answer.error) {
        // Cut after its content reached the client: no other model may continue it.
        queue.push({ type: "model_error", model: model.id, error: answer.error, fallback: null });
        return;
      }
      if (answer.status !== "error") return;
      // Skip fallbacks whose breaker opened meanwhile (e.g. via concurrent queries).
      i += 1;
      while (
        i < lane.length &&
        this.registry.health(lane[i]!.id, opts.principal).status === "unavailable"
      ) i += 1;
      queue.push({
        type: "model_error",
        model: model.id,
        error: answer.error!,
        fallback: lane[i]?.id ?? null,
      });
    }
  }

  /** One reserved upstream call; settles its ticket whatever happens. */
  async #attempt(
    model: ModelInfo,
    opts: QueryOptions,
    signal: AbortSignal,
    queue: AsyncQueue<QueryEvent>,
    ticket: CallTicket,
  ): Promise<Answer> {
    const { answer, source } = await this.#call(model, opts, signal, queue);
    await ticket.settle({
      usage: answer.usage,
      source,
      status: answer.status,
      costUsd: answer.cost_usd,
      latencyMs: answer.latency_ms,
    });
    return answer;
  }

  /** One upstream call under its deadline; never throws, always returns an Answer. */
  async #call(
    model: ModelInfo,
    opts: QueryOptions,
    signal: AbortSignal,
    queue: AsyncQueue<QueryEvent>,
  ): Promise<{ answer: Answer; source: "provider" | "estimated" }> {
    const provider = this.registry.provider(model.id);
    const deadline = withDeadline(signal, model.timeout_ms);
    const idle = new IdleWatchdog(this.#idleMs);
    const started = this.#now();
    const elapsed = () => Math.round(this.#now() - started);
    let content = "";
    try {
      const events = provider.stream({
        model: model.upstream,
        messages: opts.messages,
        temperature: opts.temperature,
        maxTokens: this.#outputCap(opts),
        signal: AbortSignal.any([deadline.signal, idle.signal]),
      });
      for await (const ev of events) {
        idle.touch();
        if (ev.type === "delta") {
          content += ev.text;
          queue.push({ type: "chunk", model: model.id, delta: ev.text });
          continue;
        }
        const latency = elapsed();
        this.registry.recordSuccess(model.id, latency, opts.principal);
        const cost = costUsd(model, ev.usage);
        queue.push({
          type: "usage",
          model: model.id,
          usage: ev.usage,
          cost_usd: cost,
          latency_ms: latency,
          finish_reason: ev.finishReason,
        });
        return {
          answer: {
            model: model.id,
            content,
            finish_reason: ev.finishReason,
            latency_ms: latency,
            usage: ev.usage,
            cost_usd: cost,
            status: "complete",
          },
          source: ev.usageEstimated ? "estimated" : "provider",
        };
      }
      throw new ProviderError(
        provider.name,
        "upstream_error",
        `${provider.name}: stream ended without a result`,
      );
    } catch (err) {
      const latency = elapsed();
      // The query signal (not the deadline) fired: the caller cancelled.
      const cancelled = signal.aborted;
      const usage = this.#partialUsage(opts, content);
      const base = {
        model: model.id,
        content,
        finish_reason: null,
        latency_ms: latency,
        usage,
        cost_usd: costUsd(model, usage),
      };
      if (cancelled) return { answer: { ...base, status: "incomplete" }, source: "estimated" };
      const pe = idle.fired && !deadline.signal.aborted
        ? new ProviderError(
          provider.name,
          "timeout",
          `${provider.name}: no data from upstream for ${this.#idleMs} ms`,
        )
        : err instanceof ProviderError
        ? err
        : new ProviderError(provider.name, "upstream_error", `${provider.name}: ${String(err)}`);
      this.registry.recordFailure(model.id, {
        principal: opts.principal,
        callerFault: pe.code === "bad_request",
      });
      const error = { code: pe.code, message: pe.message };
      // Streamed content already reached the client: the answer is cut, not replaced.
      const cut = opts.streamed === true && content !== "";
      return {
        answer: { ...base, status: cut ? "incomplete" : "error", error },
        source: "estimated",
      };
    } finally {
      deadline.dispose();
      idle.dispose();
    }
  }

  /**
   * Estimated usage of a call the provider reported nothing for (failed, cut,
   * cancelled): the prompt was sent upstream, plus what was delivered.
   */
  #partialUsage(opts: QueryOptions, content: string): TokenUsage {
    return {
      input_tokens: estimatePromptTokens(opts.messages),
      output_tokens: estimateTokens(content),
    };
  }

  #select(answers: Answer[]): number | null {
    let best: number | null = null;
    for (const [i, a] of answers.entries()) {
      if (a.status !== "complete") continue;
      if (best === null || this.#rankOf(a) < this.#rankOf(answers[best]!)) best = i;
    }
    return best;
  }

  #rankOf(a: Answer): number {
    return this.registry.get(a.model)?.rank ?? Number.MAX_SAFE_INTEGER;
  }

  /** A model whose reservation the spend gate refused: never called, nothing used. */
  #refusedAnswer(m: ModelInfo, refused: CallRefusedError): Answer {
    return uncalledAnswer(m, { code: refused.code, message: refused.message });
  }

  #unavailableAnswer(m: ModelInfo, principal?: string): Answer {
    const until = this.registry.health(m.id, principal).unavailable_until;
    return uncalledAnswer(m, {
      code: "model_unavailable",
      message: `${m.id} is temporarily unavailable after repeated failures` +
        (until ? ` (retry after ${new Date(until).toISOString()})` : ""),
    });
  }
}

/** The answer of a model that was never called: empty, nothing used, and why. */
function uncalledAnswer(m: ModelInfo, error: AnswerError): Answer {
  return {
    model: m.id,
    content: "",
    finish_reason: null,
    latency_ms: 0,
    usage: { input_tokens: 0, output_tokens: 0 },
    cost_usd: 0,
    status: "error",
    error,
  };
}

/** Aborts when `touch` was not called for `ms` (upstream silence); always dispose it. */
class IdleWatchdog {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: ReturnType<typeof setTimeout>;

  constructor(ms: number) {
    this.#ms = ms;
    this.#timer = this.#arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get fired(): boolean {
    return this.#controller.signal.aborted;
  }

  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = this.#arm();
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }

  #arm(): ReturnType<typeof setTimeout> {
    return setTimeout(() => this.#controller.abort(timeoutReason(this.#ms)), this.#ms);
  }
}
