import type { SessionConfig } from "../config.ts";
import { type ApiKeyCredential, findApiKeyByHash } from "../db/api_keys.ts";
import type { Sql } from "../db/client.ts";
import { getSessionStatus, type SessionStatus } from "../db/sessions.ts";
import { ApiError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { hashApiKey, looksLikeApiKey } from "./api_key_format.ts";
import { type AccessClaims, InvalidTokenError, type TokenService } from "./jwt.ts";
import { effectiveKeyScopes } from "./access.ts";
import { type CredentialRef, type Principal, type Role, scopesOfRole } from "../principal.ts";
export type { CredentialRef };
import { TouchBuffer } from "./touch_buffer.ts";
import { TtlCache } from "./ttl_cache.ts";
import { touchApiKeys } from "../db/api_keys.ts";
import { touchSessions } from "../db/sessions.ts";

/**
 * How long a verified credential is trusted without asking the database.
 * Revocation reaches every instance within this bound (the contract says 5 s).
 */
export const CREDENTIAL_CACHE_MS = 2_000;

/**
 * How long a verified access token's claims are reused, keyed by the exact
 * token text (never past its `exp`). Signature checks were the largest cost of
 * a JWT request; the session behind the token is still checked as above.
 */
export const VERIFIED_TOKEN_CACHE_MS = 60_000;

/** Credentials as presented on a request. */
export interface PresentedCredentials {
  authorization?: string | null;
  apiKeyHeader?: string | null;
}

/**
 * Turns request credentials into a Principal: JWTs are verified with jose and
 * their session checked; API keys are a hash lookup. Both are cached briefly.
 */
export class Authenticator {
  readonly #keyCache = new TtlCache<ApiKeyCredential | null>(CREDENTIAL_CACHE_MS);
  readonly #sessionCache = new TtlCache<SessionStatus | null>(CREDENTIAL_CACHE_MS);
  readonly #verifiedTokens = new TtlCache<AccessClaims>(VERIFIED_TOKEN_CACHE_MS);
  readonly #keyTouches: TouchBuffer;
  readonly #sessionTouches: TouchBuffer;

  constructor(
    private readonly sql: Sql,
    private readonly tokens: TokenService,
    private readonly config: Pick<SessionConfig, "SESSION_IDLE_TTL_SECONDS">,
    private readonly log: Logger,
  ) {
    const onError = (error: unknown) => log.warn("last_used_at flush failed", { error });
    this.#keyTouches = new TouchBuffer((t) => touchApiKeys(sql, t), onError, 10_000);
    this.#sessionTouches = new TouchBuffer((t) => touchSessions(sql, t), onError, 10_000);
  }

  /** The credential text, from `Authorization: Bearer` or `X-API-Key` (never the URL). */
  static extract(presented: PresentedCredentials): string | null {
    const header = presented.authorization?.trim();
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new ApiError("unauthorized", "Use 'Authorization: Bearer <token>'.");
      return match[1]!;
    }
    const key = presented.apiKeyHeader?.trim();
    return key ? key : null;
  }

  async authenticate(presented: PresentedCredentials): Promise<Principal> {
    const credential = Authenticator.extract(presented);
    if (!credential) throw new ApiError("unauthorized", "Credentials are required.");
    if (credential.startsWith("gate_")) return await this.#fromApiKey(credential);
    return await this.#fromAccessToken(credential);
  }

  /**
   * The reference to keep for re-checking the credential of a request later
   * (the request was already authenticated with it).
   */
  async credentialRef(presented: PresentedCredentials): Promise<CredentialRef> {
    const credential = Authenticator.extract(presented);
    if (!credential) throw new ApiError("unauthorized", "Credentials are required.");
    if (credential.startsWith("gate_")) return { type: "api_key", keyHash: hashApiKey(credential) };
    const claims = await this.#verify(credential);
    return { type: "session", sessionId: claims.sid, userId: claims.sub };
  }

  /**
   * The principal a kept credential stands for now: the same checks (and the
   * same short caches) as a request presenting it. Throws ApiError 401/403
   * once it is revoked, rolled away, expired, ended or its owner disabled.
   */
  async resolve(ref: CredentialRef): Promise<Principal> {
    return ref.type === "api_key"
      ? await this.#fromKeyHash(ref.keyHash)
      : await this.#fromSession(ref.userId, ref.sessionId);
  }

  async #fromApiKey(key: string): Promise<Principal> {
    // The checksum rejects typos and garbage without touching the database.
    if (!looksLikeApiKey(key)) throw new ApiError("unauthorized", "Invalid API key.");
    return await this.#fromKeyHash(hashApiKey(key));
  }

  async #fromKeyHash(hash: string): Promise<Principal> {
    let row = this.#keyCache.get(hash);
    if (row === undefined) {
      row = await findApiKeyByHash(this.sql, hash);
      this.#keyCache.set(hash, row);
    }
    if (!row) throw new ApiError("unauthorized", "Invalid API key.");
    const now = Date.now();
    if (row.revoked_at) throw new ApiError("unauthorized", "This API key was revoked.");
    if (row.expires_at && row.expires_at.getTime() <= now) {
      throw new ApiError("unauthorized", "This API key has expired.");
    }
    if (
      row.via_previous && (!row.previous_expires_at || row.previous_expires_at.getTime() <= now)
    ) {
      throw new ApiError("unauthorized", "This API key was rolled.");
    }
    if (row.owner_disabled) throw new ApiError("forbidden", "This account is disabled.");
    this.#keyTouches.touch(row.id);
    return {
      type: "api_key",
      userId: row.user_id,
      email: row.owner_email,
      role: row.owner_role,
      tier: row.tier ?? row.owner_tier,
      // Never beyond the owner's current role, nor a bound key's confinement.
      scopes: effectiveKeyScopes(row.scopes, row.owner_role, row.chatbot_id),
      apiKeyId: row.id,
      ...(row.tier ? { ownBudget: true } : {}),
      ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
      ...(row.chatbot_id ? { chatbotId: row.chatbot_id } : {}),
      ...(row.rate_limit_per_minute ? { rateLimitPerMinute: row.rate_limit_per_minute } : {}),
      ...(row.rate_limit_per_day ? { rateLimitPerDay: row.rate_limit_per_day } : {}),
    };
  }

  async #verify(token: string): Promise<AccessClaims> {
    const cached = this.#verifiedTokens.get(token);
    if (cached) return cached;
    try {
      const claims = await this.tokens.verifyAccessToken(token);
      this.#verifiedTokens.set(token, claims, claims.exp * 1000 - Date.now());
      return claims;
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        this.log.debug("access token rejected", { reason: error.reason });
        throw new ApiError("unauthorized", "Invalid or expired access token.");
      }
      throw error;
    }
  }

  async #fromAccessToken(token: string): Promise<Principal> {
    const claims = await this.#verify(token);
    return await this.#fromSession(claims.sub, claims.sid);
  }

  async #fromSession(userId: string, sessionId: string): Promise<Principal> {
    const claims = { sub: userId, sid: sessionId };
    let session = this.#sessionCache.get(claims.sid);
    if (session === undefined) {
      session = await getSessionStatus(this.sql, claims.sid);
      this.#sessionCache.set(claims.sid, session);
    }
    const now = Date.now();
    const idleLimit = this.config.SESSION_IDLE_TTL_SECONDS * 1000;
    if (
      !session || session.revoked || session.expires_at.getTime() <= now ||
      session.last_used_at.getTime() + idleLimit <= now
    ) {
      throw new ApiError("unauthorized", "This session has ended; log in again.");
    }
    // A token naming another user than its session's is forged or mis-issued.
    if (session.user_id !== claims.sub) {
      this.log.warn("access token subject does not match its session", { session_id: claims.sid });
      throw new ApiError("unauthorized", "Invalid or expired access token.");
    }
    if (session.disabled) throw new ApiError("forbidden", "This account is disabled.");
    this.#sessionTouches.touch(claims.sid);
    // The role comes from the database: a role change revokes sessions anyway,
    // and this closes the window until the token expires.
    const role = session.role as Role;
    return {
      type: "user",
      userId: claims.sub,
      email: session.email,
      role,
      tier: session.tier,
      scopes: scopesOfRole(role),
      sessionId: claims.sid,
    };
  }

  /** Forget cached state after a local revocation (other instances wait out the TTL). */
  forgetSession(sessionId: string): void {
    this.#sessionCache.delete(sessionId);
  }

  /** After a key is revoked or rolled here: this instance stops trusting cached keys at once. */
  forgetApiKeys(): void {
    this.#keyCache.clear();
  }

  forgetAll(): void {
    this.#verifiedTokens.clear();
    this.#sessionCache.clear();
    this.#keyCache.clear();
  }

  async close(): Promise<void> {
    await this.#keyTouches.close();
    await this.#sessionTouches.close();
  }
}
