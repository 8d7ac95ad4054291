/**
 * One chat WebSocket. Client messages: `{type:"message", message,
 * conversation_id?, chatbot_id?}` and `{type:"ping"}`. Server messages (JSON,
 * each with `type`): `conversation_id`, `consent_required`, `chunk`, `done`
 * (the sendChatMessage body), `error` ({error, message}), `pong`.
 * `tool_calls` and `results` are reserved for tool use: no tools are
 * configured, so they are never sent and `done` carries empty lists.
 *
 * Every chat message passes the same gates as HTTP: the credential must still
 * stand, the per-principal rate limit, the `chat` scope, the prompt length and
 * the concurrent-stream cap. One message is answered at a time per socket.
 */
import { z } from "zod";
import { authorize } from "../auth/middleware.ts";
import type { Principal } from "../principal.ts";
import { principalStillActive } from "../db/ws_tickets.ts";
import { ApiError } from "../errors.ts";
import { rateLimitErrorDetail } from "../ratelimit/headers.ts";
import type { Services } from "../services.ts";
import { assertPromptLength } from "./prompt.ts";
import { chatBody } from "./responses.ts";
import { chatRuntime } from "./runtime.ts";
import { errorEvent } from "./stream_errors.ts";
import { Turn } from "./turn.ts";

/** Close codes: the server is going away; the credential no longer stands. */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;

/** Frames larger than any acceptable message are refused before parsing. */
const FRAME_OVERHEAD_CHARS = 4096;

const ClientMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("message"),
    message: z.string().min(1),
    conversation_id: z.uuid().optional(),
    chatbot_id: z.uuid().optional(),
  }),
  z.object({ type: z.literal("ping") }),
]);
type ChatRequest = Extract<z.infer<typeof ClientMessage>, { type: "message" }>;

export class ChatSocket {
  readonly #services: Services;
  readonly #principal: Principal;
  readonly #socket: WebSocket;
  /** Fires when the socket closes: the answer in progress is cut short and stored. */
  readonly #closed = new AbortController();
  #answering = false;

  constructor(services: Services, principal: Principal, socket: WebSocket) {
    this.#services = services;
    this.#principal = principal;
    this.#socket = socket;
    const shutdown = services.lifecycle.shutdownSignal;
    const goAway = () => this.#close(CLOSE_GOING_AWAY, "server shutting down");
    shutdown.addEventListener("abort", goAway, { once: true });
    socket.onmessage = (event) => void this.#receive(event.data);
    socket.onclose = () => {
      shutdown.removeEventListener("abort", goAway);
      this.#closed.abort(new DOMException("socket closed", "AbortError"));
    };
  }

  async #receive(data: unknown): Promise<void> {
    try {
      const request = this.#parse(data);
      if (request.type === "ping") return this.#send({ type: "pong" });
      await this.#admit();
      if (this.#answering) {
        throw new ApiError("conflict", "A message is still being answered on this socket.");
      }
      this.#answering = true;
      try {
        await this.#answer(request);
      } finally {
        this.#answering = false;
      }
    } catch (error) {
      this.#send({ type: "error", ...errorEvent(error, this.#services.log) });
      if (error instanceof ApiError && error.code === "unauthorized") {
        this.#close(CLOSE_POLICY_VIOLATION, "credential no longer valid");
      }
    }
  }

  #parse(data: unknown) {
    const limit = this.#services.config.MAX_PROMPT_CHARS + FRAME_OVERHEAD_CHARS;
    if (typeof data !== "string") throw new ApiError("bad_request", "Send JSON text frames.");
    if (data.length > limit) {
      throw new ApiError("validation_error", `Frames are at most ${limit} characters.`);
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ApiError("bad_request", "Malformed JSON.");
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      throw new ApiError("validation_error", undefined, {
        issues: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
      });
    }
    return parsed.data;
  }

  /** The HTTP gates, per message: credential still valid, rate limit, scope. */
  async #admit(): Promise<void> {
    const { sql, limits } = this.#services;
    if (!(await principalStillActive(sql, this.#principal))) {
      throw new ApiError(
        "unauthorized",
        "The credential this socket was opened with is no longer valid.",
      );
    }
    const decision = await limits.principal(this.#principal);
    if (!decision.success) {
      throw new ApiError(
        "rate_limited",
        "Rate limit exceeded.",
        { ...rateLimitErrorDetail(decision.outcomes, decision.scope) },
      );
    }
    authorize(this.#principal, { scopes: ["chat"] });
  }

  async #answer(request: ChatRequest): Promise<void> {
    const services = this.#services;
    assertPromptLength(request.message, services.config.MAX_PROMPT_CHARS, "message");
    const release = chatRuntime(services).streams.acquire(this.#principal);
    try {
      const shutdown = services.lifecycle.shutdownSignal;
      const turn = await Turn.start(services, this.#principal, {
        message: request.message,
        mode: "balanced",
        chatbotId: request.chatbot_id,
        conversationId: request.conversation_id,
        streamed: true,
      }, [shutdown, this.#closed.signal]);
      this.#send({ type: "conversation_id", conversation_id: turn.conversationId });
      if (turn.requiresConsent) this.#send({ type: "consent_required", ...turn.requiresConsent });
      const record = await turn.run((event) => {
        if (event.type === "chunk") {
          this.#send({ type: "chunk", model: event.model, delta: event.delta });
        }
      });
      if (shutdown.aborted) {
        throw new ApiError("service_unavailable", "The server is shutting down; try again.");
      }
      this.#send({ type: "done", ...chatBody(turn, record) });
    } finally {
      release();
    }
  }

  #send(message: Record<string, unknown>): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify(message));
  }

  #close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
  }
}
