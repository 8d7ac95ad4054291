/**
 * Small custom clients for what autocannon cannot measure: set-up through the
 * real API, time to the first streamed chunk, and a flood of logins.
 */

export interface Credentials {
  email: string;
  password: string;
  accessToken: string;
  apiKey: string;
}

/** Registers a user, logs in and creates an API key, all through the public API. */
export async function setUpCredentials(baseUrl: string, suffix: string): Promise<Credentials> {
  const email = `bench-${suffix}@example.com`;
  const password = `Bench-${crypto.randomUUID()}`;
  await postJson(baseUrl, "/v1/auth/register", { email, password }, 201);
  const login = await postJson(baseUrl, "/v1/auth/login", { email, password }, 200);
  const accessToken = String(login.access_token);
  const key = await postJson(baseUrl, "/v1/api-keys", { name: "bench" }, 201, {
    authorization: `Bearer ${accessToken}`,
  });
  return { email, password, accessToken, apiKey: String(key.key) };
}

async function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  expected: number,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const response = await fetch(baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) {
    throw new Error(`POST ${path}: expected ${expected}, got ${response.status}: ${text}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

export interface LatencySummary {
  count: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarise(samplesMs: number[], errors: number, seconds: number): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    errors,
    perSecond: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A streaming request and how to tell its first content and its complete end. */
export interface StreamRequest {
  path: string;
  body: string;
  firstContent: string;
  end: string;
}

/** `query` streaming on echo-fast: SSE `chunk` events, then `done`. */
export const QUERY_STREAM: StreamRequest = {
  path: "/v1/query",
  body: JSON.stringify({
    prompt: "How fast is the first chunk of a streamed answer?",
    mode: "speed",
    models: ["echo-fast"],
    stream: true,
  }),
  firstContent: "event: chunk",
  end: "event: done",
};

/** The OpenAI-compatible endpoint streaming on echo-fast: content deltas, then `[DONE]`. */
export const OPENAI_STREAM: StreamRequest = {
  path: "/openai/v1/chat/completions",
  body: JSON.stringify({
    model: "echo-fast",
    messages: [{ role: "user", content: "How fast is the first chunk of a streamed answer?" }],
    stream: true,
  }),
  // The role chunk comes first and carries no content; content deltas have only `content`.
  firstContent: '"delta":{"content":',
  end: "data: [DONE]",
};

/**
 * Streams `request` (default `POST /v1/query`) from `concurrency` loops for
 * `seconds`, timing the first content (TTFB) of each answer; every stream is
 * read to its end.
 */
export async function measureStreamTtfb(
  baseUrl: string,
  apiKey: string,
  concurrency: number,
  seconds: number,
  request: StreamRequest = QUERY_STREAM,
): Promise<LatencySummary> {
  const body = request.body;
  const samples: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const decoder = new TextDecoder();
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let firstChunk: number | undefined;
      let text = "";
      try {
        const response = await fetch(baseUrl + request.path, {
          method: "POST",
          headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json",
            accept: "text/event-stream",
          },
          body,
        });
        if (response.status !== 200 || !response.body) {
          errors++;
          await response.body?.cancel();
          continue;
        }
        for await (const bytes of response.body) {
          text += decoder.decode(bytes, { stream: true });
          if (firstChunk === undefined && text.includes(request.firstContent)) {
            firstChunk = performance.now() - t0;
          }
        }
        if (firstChunk === undefined || !text.includes(request.end)) errors++;
        else samples.push(firstChunk);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(samples, errors, (performance.now() - started) / 1000);
}

/** Runs `concurrency` back-to-back login loops until `signal` aborts. */
export async function floodLogins(
  baseUrl: string,
  credentials: Pick<Credentials, "email" | "password">,
  concurrency: number,
  signal: AbortSignal,
): Promise<LatencySummary> {
  const body = JSON.stringify({ email: credentials.email, password: credentials.password });
  const samples: number[] = [];
  let errors = 0;
  const started = performance.now();
  const loop = async () => {
    while (!signal.aborted) {
      const t0 = performance.now();
      try {
        const response = await fetch(baseUrl + "/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        await response.body?.cancel();
        if (response.status === 200) samples.push(performance.now() - t0);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(samples, errors, (performance.now() - started) / 1000);
}
