import type { Principal } from "../principal.ts";
import type { ConversationScope } from "../db/conversations.ts";

/** A caller reaches their own conversations; a chatbot-bound key only its chatbot's. */
export function conversationScopeOf(principal: Principal): ConversationScope {
  return { userId: principal.userId, chatbotId: principal.chatbotId ?? null };
}
