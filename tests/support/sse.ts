/** The one Server-Sent Events parser of the tests: over text, or incrementally over a body. */

export interface SseEvent {
  event: string;
  data: unknown;
}

/**
 * Parses SSE text into events; comment lines are counted apart. Data is JSON, except
 * OpenAI's closing `[DONE]`, kept as that string.
 */
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
    const text = data.join("\n");
    if (data.length > 0) events.push({ event, data: text === "[DONE]" ? text : JSON.parse(text) });
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

/**
 * Reads a streamed answer until its `chunks`th `chunk` event, then aborts the request with
 * `controller` (the client going away); returns the events read before that.
 */
export async function readThenAbort(
  response: Response,
  controller: AbortController,
  chunks: number,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  let seen = 0;
  try {
    for await (const event of sseEvents(response.body!)) {
      events.push(event);
      if (event.event === "chunk" && ++seen === chunks) controller.abort();
    }
  } catch (error) {
    if ((error as Error).name !== "AbortError") throw error;
  }
  return events;
}
