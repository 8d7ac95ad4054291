/**
 * Helpers for the query/chat tests: an app wired to the mock OpenAI server, and
 * small polling utilities (the SSE parser is `sse.ts`).
 */
import { type MockModel, type MockOpenAI, startMockOpenAI } from "./mock_openai_server.ts";
import { startTestApp, type TestApp } from "./harness.ts";

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
