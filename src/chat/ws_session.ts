/**
 * One chat WebSocket. Client messages: `{type:"message", message,
 * conversation_id?, chatbot_id?}` and `{type:"ping"}`. Server messages (JSON,
 * each with `type`): `conversation_id`, `consent_required`, `chunk`, `done`
 * (the sendChatMessage body), `error` ({error, message}), `pong`.
 * `tool_calls` and `results` are reserved for tool use: no tools are
 * configured, so they are never sent and `done` carries empty lists.
 *
 * Every chat message passes the same gates as HTTP, against the credential's
 * current state (not the ticket's snapshot): the credential must still stand
 * with the rights the socket was opened with, the per-principal rate limit,
 * the `chat` scope, the prompt length and the concurrent-stream cap. One
 * message is answered at a time per socket. A periodic re-check closes the
 * socket (1008) within 5 s of the credential being revoked or changed.
 */
import { z } from "zod";
import { authorize } from "../auth/access.ts";
import type { CredentialRef, Principal } from "../principal.ts";
import { ApiError } from "../errors.ts";
import { rateLimitErrorDetail } from "../ratelimit/headers.ts";
import type { Decision } from "../ratelimit/policies.ts";
import { unstorableInputIssues } from "../storable_text.ts";
import { assertPromptLength } from "./prompt.ts";
import { chatBody } from "./responses.ts";
import type { ChatService } from "./service.ts";
import { errorEvent } from "./stream_errors.ts";
import { Turn } from "./turn.ts";

/** Close codes: the server is going away; the credential no longer stands. */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
/** A frame larger than any acceptable message (RFC 6455 "message too big"). */
export const CLOSE_TOO_BIG = 1009;

/** Refused frames that end the socket: a sender of oversized frames gets no second one. */
class FrameTooBig extends ApiError {
  constructor(limit: number) {
    super("payload_too_large", `Frames are at most ${limit} characters.`);
  }
}

/**
 * How often an idle socket re-checks its credential. With the authenticator's
 * own cache (2 s) a revoked credential closes its sockets within 5 s.
 */
export const CREDENTIAL_RECHECK_MS = 2_000;

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

/** Whether `now` holds exactly the rights `opened` did (role, scopes, binding). */
function sameRights(opened: Principal, now: Principal): boolean {
  return opened.userId === now.userId && opened.role === now.role &&
    (opened.chatbotId ?? null) === (now.chatbotId ?? null) &&
    opened.scopes.length === now.scopes.length &&
    opened.scopes.every((scope) => now.scopes.includes(scope));
}

/** What a socket needs beyond the chat core: the HTTP gates, run per message. */
export interface ChatSocketGates {
  /** The credential's current principal; throws ApiError when it no longer stands. */
  resolve(credential: CredentialRef): Promise<Principal>;
  /** The per-principal rate limit decision. */
  limit(principal: Principal): Promise<Decision>;
}

export class ChatSocket {
  readonly #chat: ChatService;
  readonly #gates: ChatSocketGates;
  /** The rights the socket was opened with; any change closes it. */
  readonly #opened: Principal;
  readonly #credential: CredentialRef;
  readonly #socket: WebSocket;
  /** Fires when the socket closes: the answer in progress is cut short and stored. */
  readonly #closed = new AbortController();
  #answering = false;

  constructor(
    chat: ChatService,
    gates: ChatSocketGates,
    principal: Principal,
    credential: CredentialRef,
    socket: WebSocket,
  ) {
    this.#chat = chat;
    this.#gates = gates;
    this.#opened = principal;
    this.#credential = credential;
    this.#socket = socket;
    const shutdown = chat.shutdown;
    const goAway = () => this.#close(CLOSE_GOING_AWAY, "server shutting down");
    shutdown.addEventListener("abort", goAway, { once: true });
    // Cheap: the authenticator's cache answers most checks without the database.
    const recheck = setInterval(() => void this.#recheck(), CREDENTIAL_RECHECK_MS);
    Deno.unrefTimer(recheck);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => void this.#receive(event.data);
    socket.onclose = () => {
      clearInterval(recheck);
      shutdown.removeEventListener("abort", goAway);
      this.#closed.abort(new DOMException("socket closed", "AbortError"));
    };
  }

  /**
   * The credential as it stands now; throws ApiError unauthorized when it no
   * longer does or its rights differ from the ones the socket was opened with.
   */
  async #current(): Promise<Principal> {
    let principal: Principal;
    try {
      principal = await this.#gates.resolve(this.#credential);
    } catch (error) {
      if (
        error instanceof ApiError && (error.code === "unauthorized" || error.code === "forbidden")
      ) {
        throw new ApiError(
          "unauthorized",
          "The credential this socket was opened with is no longer valid.",
        );
      }
      throw error;
    }
    if (!sameRights(this.#opened, principal)) {
      throw new ApiError(
        "unauthorized",
        "The rights of this socket's credential changed; open a new socket.",
      );
    }
    return principal;
  }

  async #recheck(): Promise<void> {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      await this.#current();
    } catch (error) {
      if (error instanceof ApiError && error.code === "unauthorized") {
        this.#send({ type: "error", error: error.code, message: error.message });
        this.#close(CLOSE_POLICY_VIOLATION, "credential no longer valid");
        return;
      }
      // The database being briefly unreachable is no reason to drop the socket.
      this.#chat.log.debug("socket credential re-check failed", { error });
    }
  }

  async #receive(data: unknown): Promise<void> {
    try {
      const request = this.#parse(data);
      if (request.type === "ping") return this.#send({ type: "pong" });
      const principal = await this.#admit();
      if (this.#answering) {
        throw new ApiError("conflict", "A message is still being answered on this socket.");
      }
      this.#answering = true;
      try {
        await this.#answer(request, principal);
      } finally {
        this.#answering = false;
      }
    } catch (error) {
      this.#send({ type: "error", ...errorEvent(error, this.#chat.log) });
      if (error instanceof FrameTooBig) this.#close(CLOSE_TOO_BIG, "frame too big");
      if (error instanceof ApiError && error.code === "unauthorized") {
        this.#close(CLOSE_POLICY_VIOLATION, "credential no longer valid");
      }
    }
  }

  #parse(data: unknown) {
    const limit = this.#chat.maxPromptChars + FRAME_OVERHEAD_CHARS;
    const size = typeof data === "string"
      ? data.length
      : data instanceof ArrayBuffer
      ? data.byteLength
      : 0;
    if (size > limit) throw new FrameTooBig(limit);
    if (typeof data !== "string") throw new ApiError("bad_request", "Send JSON text frames.");
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ApiError("bad_request", "Malformed JSON.");
    }
    // The same refusal as every HTTP operation: text Postgres cannot store.
    const unstorable = unstorableInputIssues(json);
    if (unstorable.length > 0) {
      throw ApiError.issues(unstorable);
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      throw ApiError.issues(parsed.error.issues);
    }
    return parsed.data;
  }

  /**
   * The HTTP gates, per message, against the credential's current state:
   * still valid with the same rights, rate limit, scope. The principal it
   * returns (current role, scopes, binding) is the one the message runs as.
   */
  async #admit(): Promise<Principal> {
    const principal = await this.#current();
    const decision = await this.#gates.limit(principal);
    if (!decision.success) {
      throw new ApiError(
        "rate_limited",
        "Rate limit exceeded.",
        { ...rateLimitErrorDetail(decision.outcomes, decision.scope) },
      );
    }
    authorize(principal, { scopes: ["chat"] });
    return principal;
  }

  async #answer(request: ChatRequest, principal: Principal): Promise<void> {
    const chat = this.#chat;
    assertPromptLength(request.message, chat.maxPromptChars, "message");
    const release = chat.streams.acquire(principal);
    try {
      const shutdown = chat.shutdown;
      const turn = await Turn.start(chat, principal, {
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
