/**
 * One turn of a conversation, shared by every way in (query, chatbot query,
 * chat message; JSON, SSE or WebSocket): resolve the conversation and the
 * chatbot the caller may use, assemble the prompt, start the router, and once
 * the answers are in, store them with their usage.
 *
 * `Turn.start` does everything that can be refused (404, 422, 503) before a
 * route commits to a streaming response; `run` then streams events and stores.
 */
import type { Principal } from "../principal.ts";
import {
  buildUserContext,
  type ConsentRequirement,
  MAX_CONTEXT_MESSAGES,
  type UserContext,
} from "../context/user_context.ts";
import { type ChatbotRow, findChatbot } from "../db/chatbots.ts";
import { type ConversationRow, findConversation } from "../db/conversations.ts";
import { recentMessages } from "../db/messages.ts";
import { ApiError } from "../errors.ts";
import {
  AllModelsFailedError,
  CallRefusedError,
  type ChatMessage,
  type QueryEvent,
  type QueryMode,
  type QueryResult,
  type QueryStream,
} from "../llm/mod.ts";
import { chatbotScopeOf, conversationScopeOf } from "../auth/access.ts";
import { llmErrorToApiError } from "./llm_errors.ts";
import { completePersistedTurn, persistPendingTurn } from "./persist.ts";
import { assembleClientPrompt, assemblePrompt } from "./prompt.ts";
import type { ChatService } from "./service.ts";

export interface TurnInput {
  message: string;
  mode: QueryMode;
  chatbotId?: string;
  conversationId?: string;
  /** Candidate models; default the chatbot's, else every configured model. */
  models?: string[];
  maxModels?: number;
  /** Default the chatbot's temperature. */
  temperature?: number;
  maxTokens?: number;
  /** The chunks go to the client as they come (see QueryOptions.streamed). */
  streamed?: boolean;
  /**
   * The conversation so far as the client sent it (OpenAI-style), instead of a
   * stored one: sent to the model as is, after the chatbot's system prompt and
   * context, before `message`.
   */
  clientHistory?: ChatMessage[];
  /** Store the messages as a conversation (default true); usage is stored either way. */
  store?: boolean;
}

/** A finished, stored turn. */
export interface TurnRecord {
  result: QueryResult;
  /** Stored assistant message ids, index-aligned with `result.answers`. */
  answerMessageIds: string[];
  timestamp: string;
}

export type TurnEventListener = (event: QueryEvent) => void | Promise<void>;

interface TurnState {
  chat: ChatService;
  principal: Principal;
  message: string;
  stream: QueryStream;
  cancel: AbortController;
  /** Stops listening to the caller's signals once the turn is over. */
  unlink: () => void;
  /** The assistant message written as `pending` before the model call (null: not stored). */
  pendingId: string | null;
}

export class Turn {
  /** Also the id of the stored user message. */
  readonly id: string;
  readonly conversationId: string;
  readonly mode: QueryMode;
  readonly chatbot: ChatbotRow | null;
  /** What the chatbot was told about the user (null without a chatbot). */
  readonly userContext: UserContext | null;
  readonly requiresConsent: ConsentRequirement | undefined;
  readonly #state: TurnState;

  private constructor(
    id: string,
    state: TurnState,
    described: {
      conversationId: string;
      mode: QueryMode;
      chatbot: ChatbotRow | null;
      userContext: UserContext | null;
      requiresConsent: ConsentRequirement | undefined;
    },
  ) {
    this.id = id;
    this.#state = state;
    this.conversationId = described.conversationId;
    this.mode = described.mode;
    this.chatbot = described.chatbot;
    this.userContext = described.userContext;
    this.requiresConsent = described.requiresConsent;
  }

  /**
   * Validates and starts the turn. Any of `signals` aborting cancels the
   * upstream calls (what was generated is kept as `incomplete`).
   */
  static async start(
    chat: ChatService,
    principal: Principal,
    input: TurnInput,
    signals: AbortSignal[] = [],
  ): Promise<Turn> {
    const { sql } = chat;
    const conversation = input.conversationId
      ? await findOwnConversation(chat, principal, input.conversationId)
      : null;
    const chatbot = await resolveChatbot(chat, principal, input.chatbotId, conversation);

    // The history is read once, the same way with or without a chatbot; the
    // chatbot's user context is built over it.
    const history = conversation
      ? await recentMessages(sql, conversation.id, MAX_CONTEXT_MESSAGES)
      : [];
    let userContext: UserContext | null = null;
    let requiresConsent: ConsentRequirement | undefined;
    if (chatbot) {
      const built = await buildUserContext(sql, {
        userId: principal.userId,
        chatbot,
        conversationId: conversation?.id ?? null,
        maxMessages: MAX_CONTEXT_MESSAGES,
        history,
        principal,
      });
      userContext = built.context;
      requiresConsent = built.requiresConsent;
    }

    const conversationId = conversation?.id ?? crypto.randomUUID();
    // Usage is recorded either way; the messages only when the turn is stored.
    const store = input.store ?? true;
    const limits = await chat.spend.limitsOf(principal);
    const cancel = new AbortController();
    const unlink = followSignals(cancel, signals);
    let stream: QueryStream;
    try {
      // Reserves the first model of every lane: a refusal is the request's 429 / 503.
      const systemPrompt = chatbot?.system_prompt ?? null;
      stream = await chat.llm.openQuery({
        mode: input.mode,
        models: input.models ?? chatbotModels(chat, chatbot),
        maxModels: input.maxModels,
        messages: input.clientHistory
          ? assembleClientPrompt({
            systemPrompt,
            userContext,
            messages: [...input.clientHistory, { role: "user", content: input.message }],
          })
          : assemblePrompt({ systemPrompt, userContext, history, message: input.message }),
        temperature: input.temperature ?? chatbot?.temperature ?? undefined,
        maxTokens: input.maxTokens,
        streamed: input.streamed,
        signal: cancel.signal,
        gate: chat.spend.gate(limits, store ? conversationId : null),
        // Per user, not per credential: more keys must not mean more blame to spread.
        principal: principal.userId,
      });
    } catch (error) {
      unlink();
      if (error instanceof CallRefusedError) throw error.reason;
      throw llmErrorToApiError(error);
    }
    const turnId = crypto.randomUUID();
    const pendingId = store ? crypto.randomUUID() : null;
    try {
      if (pendingId) {
        await persistPendingTurn(sql, {
          principal,
          turnId,
          pendingId,
          conversation: {
            id: conversationId,
            isNew: conversation === null,
            chatbotId: chatbot?.id ?? null,
          },
          message: input.message,
          model: stream.models[0] ?? null,
        });
      }
    } catch (error) {
      // The reservations are released by running the calls cancelled (settled, billed 0 output).
      cancel.abort(error);
      for await (const _ of stream) { /* drained to settle */ }
      unlink();
      throw error;
    }
    return new Turn(
      turnId,
      {
        chat,
        principal,
        message: input.message,
        stream,
        cancel,
        unlink,
        pendingId,
      },
      {
        conversationId,
        mode: input.mode,
        chatbot,
        userContext,
        requiresConsent,
      },
    );
  }

  /** The models that start answering (quality: all of them; else the first choice). */
  get models(): readonly string[] {
    return this.#state.stream.models;
  }

  /** Stops the upstream calls; `run` still stores what was generated. */
  cancel(reason: unknown): void {
    this.#state.cancel.abort(reason);
  }

  /**
   * Streams the router's events to `listen`, then stores the turn. A listener
   * that throws (a client gone) cancels the upstream calls instead of losing
   * the turn.
   */
  async run(listen?: TurnEventListener): Promise<TurnRecord> {
    const { chat, stream, cancel, unlink } = this.#state;
    try {
      for await (const event of stream) {
        if (!listen || cancel.signal.aborted) continue;
        try {
          await listen(event);
        } catch (error) {
          this.cancel(error);
        }
      }
    } finally {
      unlink();
    }
    const result = await stream.result;
    chat.metrics.recordAnswers(result.answers);
    const { pendingId } = this.#state;
    // Not stored (OpenAI endpoint without `store`): the ledger rows are the spend gate's.
    const answerMessageIds = pendingId
      ? await completePersistedTurn(chat.sql, {
        turnId: this.id,
        pendingId,
        conversationId: this.conversationId,
        result,
      })
      : result.answers.map(() => crypto.randomUUID());
    return { result, answerMessageIds, timestamp: new Date().toISOString() };
  }
}

/** The caller's conversation (a bound key: only its chatbot's), else 404. */
async function findOwnConversation(
  chat: ChatService,
  principal: Principal,
  conversationId: string,
): Promise<ConversationRow> {
  const conversation = await findConversation(
    chat.sql,
    conversationId,
    conversationScopeOf(principal),
  );
  if (!conversation) throw ApiError.notFound("conversation");
  return conversation;
}

/**
 * The chatbot of the turn: the one asked for, else the conversation's, else
 * the one a bound key is tied to. A bound key reaches only its own chatbot and
 * everyone else only chatbots they own (admins: any); others look missing.
 */
async function resolveChatbot(
  chat: ChatService,
  principal: Principal,
  requested: string | undefined,
  conversation: ConversationRow | null,
): Promise<ChatbotRow | null> {
  if (requested && conversation && conversation.chatbot_id !== requested) {
    throw ApiError.invalid(
      "chatbot_id",
      "the conversation belongs to another chatbot (or to none)",
    );
  }
  const chatbotId = requested ?? conversation?.chatbot_id ?? principal.chatbotId ?? null;
  if (!chatbotId) return null;
  const chatbot = await findChatbot(chat.sql, chatbotId, chatbotScopeOf(principal));
  if (!chatbot) throw ApiError.notFound("chatbot");
  return chatbot;
}

/**
 * The chatbot's models that are still configured. A chatbot whose every model
 * was removed from the configuration cannot answer (503), rather than
 * silently answering from models its owner did not choose.
 */
function chatbotModels(chat: ChatService, chatbot: ChatbotRow | null): string[] | undefined {
  if (!chatbot || chatbot.models.length === 0) return undefined;
  const known = chatbot.models.filter((id) => chat.models.has(id));
  if (known.length === 0) throw llmErrorToApiError(new AllModelsFailedError([]));
  return known;
}

/**
 * Lets any of `signals` cancel the turn, until the returned function unlinks
 * them (a request's signal may fire after its response was sent).
 */
function followSignals(cancel: AbortController, signals: AbortSignal[]): () => void {
  const onAbort = (event: Event) => cancel.abort((event.target as AbortSignal).reason);
  for (const signal of signals) {
    if (signal.aborted) cancel.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return () => signals.forEach((signal) => signal.removeEventListener("abort", onAbort));
}
