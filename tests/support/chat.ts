/**
 * Helpers for the query/chat tests: an SSE parser over a real response body,
 * an app wired to the mock OpenAI server, and small polling utilities.
 */
import { type MockModel, type MockOpenAI, startMockOpenAI } from "./mock_openai_server.ts";
import { startTestApp, type TestApp } from "./harness.ts";

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Parses SSE text into events (JSON data); comment lines are counted apart. */
export function parseSse(text: string): { events: SseEvent[]; comments: string[] } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) comments.push(line.slice(1).trim());
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) events.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return { events, comments };
}

/** Reads an SSE body incrementally, yielding each event as it arrives. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        yield* parseSse(block).events;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** An app whose only provider is a fresh mock OpenAI server with `models` (rank = order). */
export async function startAppWithMock(
  models: Record<string, MockModel>,
  env: Record<string, string> = {},
): Promise<{ h: TestApp; mock: MockOpenAI; close(): Promise<void> }> {
  const mock = startMockOpenAI({ models });
  const providers = [{
    name: "mock",
    base_url: mock.baseUrl,
    api_key: mock.apiKey,
    models: Object.keys(models).map((id, i) => ({
      id,
      rank: i + 1,
      input_price_per_mtok: 1,
      output_price_per_mtok: 2,
      timeout_ms: 5000,
    })),
  }];
  const h = await startTestApp({ LLM_PROVIDERS: JSON.stringify(providers), ...env });
  return {
    h,
    mock,
    close: async () => {
      await h.close();
      await mock.close();
    },
  };
}

/** Polls `check` until it returns a value other than undefined (or fails after `ms`). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
