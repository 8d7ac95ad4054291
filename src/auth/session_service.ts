import type { SessionConfig } from "../config.ts";
import { audit } from "../db/audit.ts";
import type { Sql } from "../db/client.ts";
import {
  insertRefreshToken,
  isActiveRefreshToken,
  lockRefreshToken,
  markRefreshTokenUsed,
} from "../db/refresh_tokens.ts";
import { insertSession, revokeAllSessions, revokeSession, touchSession } from "../db/sessions.ts";
import type { Db } from "../db/tx.ts";
import { ApiError } from "../errors.ts";
import type { Authenticator } from "./authenticator.ts";
import type { TokenService } from "./jwt.ts";
import { generateOpaqueToken, hashOpaqueToken, REFRESH_TOKEN_PREFIX } from "./opaque_token.ts";
import type { Role } from "../principal.ts";
import { sealChildToken, unsealChildToken } from "./refresh_sealing.ts";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
}

export interface RequestMeta {
  ip: string;
  userAgent: string | null;
  requestId: string;
}

export interface SessionHooks {
  /** A rotated refresh token came back: runs in the transaction that revokes the family. */
  onRefreshReuse?(db: Db, reuse: { userId: string; sessionId: string }): Promise<void>;
}

type RefreshOutcome =
  | { kind: "ok"; pair: TokenPair }
  | { kind: "denied"; message: string };

/** Sessions and their refresh-token families. */
export class SessionService {
  constructor(
    private readonly sql: Sql,
    private readonly tokens: TokenService,
    private readonly config: SessionConfig,
    private readonly authenticator: Authenticator,
    private readonly hooks: SessionHooks = {},
  ) {}

  /** One session per login, with the first refresh token of its family. */
  async start(
    db: Db,
    user: { id: string; role: Role },
    meta: RequestMeta,
  ): Promise<TokenPair & { session_id: string }> {
    const expiresAt = new Date(Date.now() + this.config.SESSION_ABSOLUTE_TTL_SECONDS * 1000);
    const session = await insertSession(db, {
      userId: user.id,
      expiresAt,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
      ip: meta.ip,
    });
    const refresh = generateOpaqueToken(REFRESH_TOKEN_PREFIX);
    await insertRefreshToken(db, {
      sessionId: session.id,
      tokenHash: hashOpaqueToken(refresh),
      parentId: null,
    });
    const access = await this.tokens.signAccessToken({
      sub: user.id,
      sid: session.id,
      role: user.role,
    });
    return {
      access_token: access.token,
      refresh_token: refresh,
      token_type: "Bearer",
      expires_in: access.expiresIn,
      session_id: session.id,
    };
  }

  /**
   * Rotates a refresh token. The immediate parent of the active token, inside
   * the grace window, gets the active pair again (a client racing itself);
   * any other reuse revokes the whole family.
   */
  async refresh(token: string, meta: RequestMeta): Promise<TokenPair> {
    const hash = hashOpaqueToken(token);
    const outcome = await this.sql.begin(async (tx): Promise<RefreshOutcome> => {
      const row = await lockRefreshToken(tx, hash);
      if (!row) return { kind: "denied", message: "Invalid refresh token." };
      const now = Date.now();
      const session = row.session;
      const idleEnd = session.last_used_at.getTime() + this.config.SESSION_IDLE_TTL_SECONDS * 1000;
      if (session.revoked_at || session.expires_at.getTime() <= now || idleEnd <= now) {
        return { kind: "denied", message: "This session has ended; log in again." };
      }
      if (row.user_disabled) return { kind: "denied", message: "This account is disabled." };
      const role = row.user_role as Role;

      if (row.used_at === null) {
        const child = generateOpaqueToken(REFRESH_TOKEN_PREFIX);
        const childId = await insertRefreshToken(tx, {
          sessionId: session.id,
          tokenHash: hashOpaqueToken(child),
          parentId: row.id,
        });
        await markRefreshTokenUsed(tx, {
          id: row.id,
          childId,
          childTokenEnc: await sealChildToken(token, child),
        });
        await touchSession(tx, session.id);
        return { kind: "ok", pair: await this.#pair(session.user_id, session.id, role, child) };
      }

      const graceMs = this.config.REFRESH_REUSE_GRACE_SECONDS * 1000;
      const withinGrace = now - row.used_at.getTime() <= graceMs;
      if (withinGrace && row.child_id && row.child_token_enc) {
        if (await isActiveRefreshToken(tx, row.child_id)) {
          const child = await unsealChildToken(token, row.child_token_enc);
          if (child) {
            return { kind: "ok", pair: await this.#pair(session.user_id, session.id, role, child) };
          }
        }
      }
      // Reuse of a rotated token: someone else may hold the family. End it.
      await revokeSession(tx, session.id, "refresh_reuse");
      await audit(tx, meta, "auth.refresh_reuse", {
        userId: session.user_id,
        detail: { session_id: session.id },
      });
      await this.hooks.onRefreshReuse?.(tx, { userId: session.user_id, sessionId: session.id });
      return { kind: "denied", message: "Refresh token reuse detected; the session was revoked." };
    });
    if (outcome.kind === "denied") throw new ApiError("unauthorized", outcome.message);
    return outcome.pair;
  }

  async #pair(userId: string, sessionId: string, role: Role, refresh: string): Promise<TokenPair> {
    const access = await this.tokens.signAccessToken({ sub: userId, sid: sessionId, role });
    return {
      access_token: access.token,
      refresh_token: refresh,
      token_type: "Bearer",
      expires_in: access.expiresIn,
    };
  }

  async revoke(sessionId: string, reason: string, userId?: string): Promise<boolean> {
    const revoked = await revokeSession(this.sql, sessionId, reason, userId);
    this.authenticator.forgetSession(sessionId);
    return revoked;
  }

  /** Password, role or disable changes end every session of the user. */
  async revokeAllOfUser(db: Db, userId: string, reason: string): Promise<number> {
    const count = await revokeAllSessions(db, userId, reason);
    this.authenticator.forgetAll();
    return count;
  }
}
