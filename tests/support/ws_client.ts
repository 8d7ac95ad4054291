import assert from "node:assert/strict";
import type { Json } from "./user_context_fixtures.ts";
import type { TestApp } from "./harness.ts";

/** A real WebSocket client that queues the server's JSON messages. */
export class TestSocket {
  readonly messages: Json[] = [];
  readonly closed: Promise<CloseEvent>;
  readonly #waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (event) => {
      this.messages.push(JSON.parse(event.data));
      this.#waiters.splice(0).forEach((wake) => wake());
    };
    this.closed = new Promise((resolve) => (socket.onclose = resolve));
  }

  static async open(port: number, ticket: string): Promise<TestSocket> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/chat/ws?ticket=${ticket}`);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("socket failed to open"));
    });
    return new TestSocket(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Messages up to and including the first of one of `types` (consumed from the queue). */
  async until(types: string | string[], ms = 5000): Promise<Json[]> {
    const wanted = [types].flat();
    const deadline = Date.now() + ms;
    while (true) {
      const index = this.messages.findIndex((m) => wanted.includes(m.type));
      if (index >= 0) return this.messages.splice(0, index + 1);
      if (Date.now() > deadline) {
        throw new Error(`no ${wanted} message; got ${JSON.stringify(this.messages)}`);
      }
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        setTimeout(wake, 50);
      });
    }
  }

  /** The close event, or a failure when the socket is still open after `ms`. */
  async closedWithin(ms: number): Promise<CloseEvent> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.close();
  }
}

export async function ticketFor(h: TestApp, token: string): Promise<string> {
  const res = await h.json("POST", "/v1/chat/ws-ticket", undefined, { token });
  assert.equal(res.status, 201);
  return (await res.json()).ticket;
}

/** The upgrade request as the server sees it, in-process: refusals happen before upgrading. */
export function upgradeRequest(h: TestApp, ticket: string, headers: Record<string, string> = {}) {
  return h.request(`/v1/chat/ws?ticket=${encodeURIComponent(ticket)}`, {
    headers: { upgrade: "websocket", connection: "Upgrade", ...headers },
  });
}
