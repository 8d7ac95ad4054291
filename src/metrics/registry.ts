/**
 * A small Prometheus registry: counters, gauges and fixed-bucket histograms,
 * rendered in the text exposition format (version 0.0.4). No dependency; the
 * service only needs a handful of metrics with a bounded set of label values.
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Series per metric beyond which new label combinations are folded into one
 * `_overflow_` series: a bug or an unexpected input must not grow memory forever.
 */
export const MAX_SERIES_PER_METRIC = 2_000;
const OVERFLOW = "_overflow_";

export type Labels = Record<string, string | number>;

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** HELP text: backslash and line feed are escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

abstract class Metric<S> {
  readonly #series = new Map<string, { labels: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new RangeError(`invalid metric name "${name}"`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new RangeError(`invalid label name "${label}" on ${name}`);
      }
    }
  }

  abstract readonly type: "counter" | "gauge" | "histogram";
  protected abstract initial(): S;
  protected abstract renderSeries(labels: string, state: S, out: string[]): void;

  /** The state of one label combination, created on first use. */
  protected series(labels: Labels = {}): S {
    // Called on every request: the key is built without intermediate arrays.
    let key = "";
    for (let i = 0; i < this.labelNames.length; i++) {
      if (i > 0) key += "\u0000";
      key += String(labels[this.labelNames[i]!] ?? "");
    }
    let entry = this.#series.get(key);
    if (entry) return entry.state;
    let values = this.labelNames.map((name) => String(labels[name] ?? ""));
    if (this.#series.size >= MAX_SERIES_PER_METRIC) {
      values = this.labelNames.map(() => OVERFLOW);
      key = values.join("\u0000");
      entry = this.#series.get(key);
      if (entry) return entry.state;
    }
    entry = { labels: values, state: this.initial() };
    this.#series.set(key, entry);
    return entry.state;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    for (const { labels, state } of this.#series.values()) {
      const pairs = this.labelNames.map((name, i) => `${name}="${escapeLabelValue(labels[i]!)}"`);
      this.renderSeries(pairs.join(","), state, out);
    }
  }
}

const braces = (labels: string) => (labels ? `{${labels}}` : "");

export class Counter extends Metric<{ value: number }> {
  readonly type = "counter";
  protected initial() {
    return { value: 0 };
  }
  /** Adds `amount` (>= 0; negative or non-finite amounts are ignored). */
  inc(labels: Labels = {}, amount = 1): void {
    // An ignored amount must not create a series either.
    if (Counter.#valid(amount)) this.series(labels).value += amount;
  }
  get(labels: Labels = {}): number {
    return this.series(labels).value;
  }
  /** One label combination, looked up once (for hot paths that keep it). */
  labels(labels: Labels): { inc(amount?: number): void } {
    const state = this.series(labels);
    return {
      inc: (amount = 1) => {
        if (Counter.#valid(amount)) state.value += amount;
      },
    };
  }
  /** Counters only grow: negative or non-finite amounts are ignored. */
  static #valid(amount: number): boolean {
    return amount >= 0 && Number.isFinite(amount);
  }
  protected renderSeries(labels: string, state: { value: number }, out: string[]) {
    out.push(`${this.name}${braces(labels)} ${formatValue(state.value)}`);
  }
}

export class Gauge extends Metric<{ value: number }> {
  readonly type = "gauge";
  protected initial() {
    return { value: 0 };
  }
  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }
  inc(labels: Labels = {}, amount = 1): void {
    this.series(labels).value += amount;
  }
  dec(labels: Labels = {}, amount = 1): void {
    this.series(labels).value -= amount;
  }
  get(labels: Labels = {}): number {
    return this.series(labels).value;
  }
  protected renderSeries(labels: string, state: { value: number }, out: string[]) {
    out.push(`${this.name}${braces(labels)} ${formatValue(state.value)}`);
  }
}

interface HistogramState {
  /** Per-bucket (non-cumulative) counts; cumulated when rendered. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly type = "histogram";
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: number[]) {
    super(name, help, labelNames);
    const sorted = [...new Set(buckets)].filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted.length === 0) throw new RangeError(`histogram ${name} needs buckets`);
    this.buckets = sorted;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labels: Labels, value: number): void {
    this.#record(this.series(labels), value);
  }

  /** One label combination, looked up once (for hot paths that keep it). */
  labels(labels: Labels): { observe(value: number): void } {
    const state = this.series(labels);
    return { observe: (value) => this.#record(state, value) };
  }

  #record(state: HistogramState, value: number): void {
    if (!Number.isFinite(value)) return;
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) state.counts[index]! += 1;
    state.sum += value;
    state.count += 1;
  }

  /** Observations so far for one label combination (tests and debugging). */
  snapshot(labels: Labels = {}): { count: number; sum: number } {
    const { count, sum } = this.series(labels);
    return { count, sum };
  }

  protected renderSeries(labels: string, state: HistogramState, out: string[]) {
    const prefix = labels ? `${labels},` : "";
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += state.counts[i]!;
      out.push(`${this.name}_bucket{${prefix}le="${formatValue(bound)}"} ${cumulative}`);
    });
    out.push(`${this.name}_bucket{${prefix}le="+Inf"} ${state.count}`);
    out.push(`${this.name}_sum${braces(labels)} ${formatValue(state.sum)}`);
    out.push(`${this.name}_count${braces(labels)} ${state.count}`);
  }
}

/** Owns the metrics of one process, in registration order. */
export class Registry {
  readonly #metrics = new Map<string, { render(out: string[]): void }>();
  /** Run before each render: gauges that are sampled rather than pushed. */
  readonly #collectors: (() => void | Promise<void>)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** A function that refreshes sampled gauges, run (and awaited) before each render. */
  collect(collector: () => void | Promise<void>): void {
    this.#collectors.push(collector);
  }

  async render(): Promise<string> {
    await Promise.all(this.#collectors.map(async (collect) => {
      try {
        await collect();
      } catch {
        // A failing sampler leaves its gauges as they were; the scrape still answers.
      }
    }));
    const out: string[] = [];
    for (const metric of this.#metrics.values()) metric.render(out);
    return out.join("\n") + "\n";
  }

  #add<M extends { name: string; render(out: string[]): void }>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new RangeError(`metric ${metric.name} is already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}
