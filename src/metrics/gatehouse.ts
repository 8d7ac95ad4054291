/**
 * The service's metrics, behind a small API the rest of the code calls
 * (`services.metrics.recordModelCall(...)` and friends). Label values are
 * bounded: route patterns (never raw paths), known methods, status codes,
 * policy and model ids from configuration.
 */
import type { Answer } from "../llm/mod.ts";
import { VERSION } from "../version.ts";
import { type Counter, type Gauge, type Histogram, Registry } from "./registry.ts";

/** Seconds; request latency up to the body-less part of a streamed answer. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; model calls are slow and long-tailed. */
const MODEL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds; a database or limiter round trip. */
const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** What a rate-limit check did: let through, refused, or could not ask the backend. */
export type RateLimitOutcome = "allowed" | "denied" | "failed_open" | "failed_closed";

export interface ModelCall {
  model: string;
  /** "complete" | "incomplete" | "error" (the usage row's status). */
  status: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs: number;
}

export interface RequestObservation {
  method: string;
  /** The matched route pattern, e.g. `/v1/users/:user_id`; "unmatched" otherwise. */
  route: string;
  status: number;
  durationMs: number;
}

export interface ProbeObservation {
  status: "up" | "down" | "degraded";
  latency_ms: number;
}

export class GatehouseMetrics {
  readonly registry = new Registry();
  readonly #startedAt = Date.now();

  readonly httpRequests: Counter;
  readonly httpDuration: Histogram;
  readonly httpInFlight: Gauge;
  /**
   * Bound series of httpRequests and httpDuration by method, status and route
   * (all bounded: known methods, route patterns or "unmatched", status codes).
   */
  readonly #requestSeries = new Map<
    string,
    { count: { inc(): void }; duration: { observe(value: number): void } }
  >();
  readonly rateLimitDecisions: Counter;
  readonly modelCalls: Counter;
  readonly spendRefusals: Counter;
  readonly modelTokens: Counter;
  readonly modelCost: Counter;
  readonly modelDuration: Histogram;
  readonly dependencyUp: Gauge;
  readonly dependencyLatency: Gauge;
  readonly dependencyProbe: Histogram;

  constructor() {
    const r = this.registry;
    r.gauge("gatehouse_build_info", "Build information; always 1.", ["version"])
      .set({ version: VERSION }, 1);
    const uptime = r.gauge("gatehouse_uptime_seconds", "Seconds since this process started.");
    const memory = r.gauge(
      "process_resident_memory_bytes",
      "Resident memory of this process in bytes.",
    );
    const heap = r.gauge("gatehouse_heap_used_bytes", "V8 heap in use, in bytes.");
    r.collect(() => {
      uptime.set({}, Math.floor((Date.now() - this.#startedAt) / 1000));
      const usage = Deno.memoryUsage();
      memory.set({}, usage.rss);
      heap.set({}, usage.heapUsed);
    });

    this.httpRequests = r.counter(
      "gatehouse_http_requests_total",
      "HTTP requests answered, by method, route pattern and status.",
      ["method", "route", "status"],
    );
    this.httpDuration = r.histogram(
      "gatehouse_http_request_duration_seconds",
      "Time to the response (headers, for streamed answers), by method, route pattern and status.",
      ["method", "route", "status"],
      HTTP_BUCKETS,
    );
    this.httpInFlight = r.gauge(
      "gatehouse_http_requests_in_flight",
      "Requests being handled right now.",
    );
    this.rateLimitDecisions = r.counter(
      "gatehouse_rate_limit_decisions_total",
      "Rate-limit checks by policy (api_key, user, ip, login-account, login-account-ip) and decision (allowed, denied, failed_open, failed_closed).",
      ["policy", "decision"],
    );
    this.modelCalls = r.counter(
      "gatehouse_model_calls_total",
      "Model calls by model and status (complete, incomplete, error).",
      ["model", "status"],
    );
    this.spendRefusals = r.counter(
      "gatehouse_spend_refusals_total",
      "Model calls refused by a spend limit, by policy (tokens_per_day, usd_per_day, usd_per_month) and scope (user, api_key); `unavailable` when the limiter could not be asked (fail closed).",
      ["policy", "scope"],
    );
    this.modelTokens = r.counter(
      "gatehouse_model_tokens_total",
      "Tokens accounted per model, by direction (input, output).",
      ["model", "direction"],
    );
    this.modelCost = r.counter(
      "gatehouse_model_cost_usd_total",
      "Cost accounted per model, in US dollars.",
      ["model"],
    );
    this.modelDuration = r.histogram(
      "gatehouse_model_call_duration_seconds",
      "Model call latency by model and status.",
      ["model", "status"],
      MODEL_BUCKETS,
    );
    this.dependencyUp = r.gauge(
      "gatehouse_dependency_up",
      "1 when the dependency (database, rate_limiter) answered its last probe, else 0.",
      ["dependency"],
    );
    this.dependencyLatency = r.gauge(
      "gatehouse_dependency_latency_seconds",
      "Latency of the last probe of the dependency (database, rate_limiter).",
      ["dependency"],
    );
    this.dependencyProbe = r.histogram(
      "gatehouse_dependency_probe_duration_seconds",
      "Probe latencies of the dependencies, sampled on each /metrics scrape.",
      ["dependency"],
      PROBE_BUCKETS,
    );
  }

  requestStarted(): void {
    this.httpInFlight.inc();
  }

  /** One answered request; call once per request, after `requestStarted`. */
  requestFinished(request: RequestObservation): void {
    this.httpInFlight.dec();
    const method = METHODS.has(request.method) ? request.method : "OTHER";
    // Every request lands here: its two series are found with one lookup.
    const key = `${method} ${request.status} ${request.route}`;
    let series = this.#requestSeries.get(key);
    if (!series) {
      const labels = { method, route: request.route, status: String(request.status) };
      series = {
        count: this.httpRequests.labels(labels),
        duration: this.httpDuration.labels(labels),
      };
      this.#requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(request.durationMs / 1000);
  }

  recordRateLimit(policy: string, outcome: RateLimitOutcome): void {
    this.rateLimitDecisions.inc({ policy, decision: outcome });
  }

  /** A model call refused before it went upstream (a spend limit, or the limiter down). */
  recordSpendRefusal(policy: string, scope: string): void {
    this.spendRefusals.inc({ policy, scope });
  }

  /** One model call, as accounted in its usage row. */
  recordModelCall(call: ModelCall): void {
    const model = call.model;
    this.modelCalls.inc({ model, status: call.status });
    this.modelTokens.inc({ model, direction: "input" }, call.inputTokens);
    this.modelTokens.inc({ model, direction: "output" }, call.outputTokens);
    this.modelCost.inc({ model }, call.costUsd);
    this.modelDuration.observe({ model, status: call.status }, call.latencyMs / 1000);
  }

  /** Every model call of a finished query (one usage row each). */
  recordAnswers(answers: readonly Answer[]): void {
    for (const answer of answers) {
      this.recordModelCall({
        model: answer.model,
        status: answer.status,
        inputTokens: answer.usage.input_tokens,
        outputTokens: answer.usage.output_tokens,
        costUsd: answer.cost_usd,
        latencyMs: answer.latency_ms,
      });
    }
  }

  /** The outcome of a database or limiter probe. */
  recordProbe(dependency: "database" | "rate_limiter", probe: ProbeObservation): void {
    const seconds = probe.latency_ms / 1000;
    this.dependencyUp.set({ dependency }, probe.status === "down" ? 0 : 1);
    this.dependencyLatency.set({ dependency }, seconds);
    this.dependencyProbe.observe({ dependency }, seconds);
  }

  render(): Promise<string> {
    return this.registry.render();
  }
}
