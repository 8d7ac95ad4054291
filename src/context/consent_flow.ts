import { generateOpaqueToken, hashOpaqueToken } from "../auth/opaque_token.ts";
import { audit as recordAudit, type AuditMeta } from "../db/audit.ts";
import type { ChatbotRow } from "../db/chatbots.ts";
import type { Sql } from "../db/client.ts";
import {
  answerConsentRequest,
  lockConsentRequest,
  upsertPendingConsentRequest,
} from "../db/consent_requests.ts";
import { insertConsent, revokeConsent } from "../db/consents.ts";
import type { Db } from "../db/tx.ts";
import { ApiError } from "../errors.ts";

/** Recognisable in logs and scanners, like `rt_` refresh tokens. */
const CONSENT_TOKEN_PREFIX = "ct_";

/** What a context needs to know about a chatbot. */
export type ContextChatbot = Pick<ChatbotRow, "id" | "name" | "context_fields" | "require_consent">;

/** The part of an answer that asks the user for consent (`requires_consent`). */
export interface ConsentRequirement {
  consent_request_id: string;
  chatbot_id: string;
  fields: string[];
  purpose: string;
}

export interface ConsentAnswer {
  consent_request_id: string;
  status: "approved" | "denied";
  consent_token?: string;
  message: string;
}

/** Whose request or grant this is: a chatbot-bound key reaches only its chatbot's. */
export interface ConsentOwner {
  userId: string;
  chatbotId: string | null;
}

export function consentPurpose(chatbot: ContextChatbot, fields: string[]): string {
  return `The chatbot "${chatbot.name}" asks to use your ${
    fields.join(", ")
  } to personalise its answers.`;
}

/** Opens (or refreshes the open) consent request for the fields still missing. */
export async function requestConsent(
  sql: Db,
  userId: string,
  chatbot: ContextChatbot,
  missingFields: string[],
): Promise<ConsentRequirement> {
  const purpose = consentPurpose(chatbot, missingFields);
  const request = await upsertPendingConsentRequest(sql, {
    userId,
    chatbotId: chatbot.id,
    fields: missingFields,
    purpose,
  });
  return {
    consent_request_id: request.id,
    chatbot_id: request.chatbot_id,
    fields: request.fields,
    purpose: request.purpose,
  };
}

/**
 * Approves or denies a pending request. Approval stores a grant and returns a
 * fresh consent token, kept only as a hash. A request answered before is 409;
 * someone else's is 404.
 */
export async function answerConsent(
  sql: Sql,
  input: { requestId: string; approved: boolean; owner: ConsentOwner; audit: AuditMeta },
): Promise<ConsentAnswer> {
  const { requestId, approved, owner, audit } = input;
  return await sql.begin(async (tx): Promise<ConsentAnswer> => {
    const request = await lockConsentRequest(tx, requestId, owner);
    if (!request) throw ApiError.notFound("consent request");
    if (request.status !== "pending") {
      throw new ApiError("conflict", `This consent request was already ${request.status}.`);
    }
    const subject = { userId: owner.userId, actorId: owner.userId };
    if (!approved) {
      await answerConsentRequest(tx, request.id, "denied");
      await recordAudit(tx, audit, "consent.deny", {
        ...subject,
        detail: { consent_request_id: request.id, chatbot_id: request.chatbot_id },
      });
      return {
        consent_request_id: request.id,
        status: "denied",
        message: "Consent denied; these fields stay out of this chatbot's answers.",
      };
    }
    const token = generateOpaqueToken(CONSENT_TOKEN_PREFIX);
    await answerConsentRequest(tx, request.id, "approved");
    const consent = await insertConsent(tx, {
      userId: owner.userId,
      chatbotId: request.chatbot_id,
      consentRequestId: request.id,
      fields: request.fields,
      tokenHash: hashOpaqueToken(token),
    });
    await recordAudit(tx, audit, "consent.grant", {
      ...subject,
      detail: { consent_id: consent.id, chatbot_id: consent.chatbot_id, fields: consent.fields },
    });
    return {
      consent_request_id: request.id,
      status: "approved",
      consent_token: token,
      message: "Consent granted; revoke it any time with DELETE /v1/consents/{consent_id}.",
    };
  });
}

/** Revokes one of the owner's active grants; later contexts leave its fields out. */
export async function withdrawConsent(
  sql: Sql,
  input: { consentId: string; owner: ConsentOwner; audit: AuditMeta },
): Promise<void> {
  const { consentId, owner, audit } = input;
  const revoked = await sql.begin(async (tx) => {
    const consent = await revokeConsent(tx, consentId, owner);
    if (consent) {
      await recordAudit(tx, audit, "consent.revoke", {
        userId: owner.userId,
        actorId: owner.userId,
        detail: { consent_id: consent.id, chatbot_id: consent.chatbot_id, fields: consent.fields },
      });
    }
    return consent;
  });
  if (!revoked) throw ApiError.notFound("consent");
}
