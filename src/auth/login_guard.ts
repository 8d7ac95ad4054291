import type { Logger } from "../log.ts";
import type { Decision, RateLimitPolicies } from "../ratelimit/policies.ts";

/** An account's account-wide failure budget just ran out. */
export interface AccountLockedEvent {
  userId: string;
  /** The address of the attempt that took the last slot. */
  ip: string;
}

export interface LoginGuardOptions {
  /**
   * Called once when a failed password check takes the account-wide budget's
   * last slot (the place to raise `security.login_locked`). Its errors are
   * logged, never turned into a failed request.
   */
  onAccountLocked?: (event: AccountLockedEvent) => void | Promise<void>;
}

export interface PasswordAttempt {
  email: string;
  ip: string;
  /** The account's id, when the email is one (unknown emails are counted all the same). */
  userId: string | null;
  /** The owner has logged in from this address before. */
  knownNetwork: boolean;
}

export type GuardedCheck<V> =
  | { kind: "refused"; decision: Decision }
  | { kind: "checked"; verdict: V };

/**
 * Every password check against an account (login, and the current password of
 * `changePassword`) goes through here: a failure slot is taken first, the
 * password checked, and the slot given back when it was right. So a burst of
 * parallel wrong passwords gets at most the budget's worth checked.
 */
export class LoginGuard {
  onAccountLocked?: LoginGuardOptions["onAccountLocked"];

  constructor(
    private readonly limits: RateLimitPolicies,
    private readonly log: Logger,
    options: LoginGuardOptions = {},
  ) {
    this.onAccountLocked = options.onAccountLocked;
  }

  async check<V extends { ok: boolean }>(
    attempt: PasswordAttempt,
    verify: () => Promise<V>,
  ): Promise<GuardedCheck<V>> {
    const slot = await this.limits.takeLoginSlot(attempt.email, attempt.ip, attempt.knownNetwork);
    if (slot.kind === "refused") return { kind: "refused", decision: slot.decision };
    let verdict: V;
    try {
      verdict = await verify();
    } catch (error) {
      // Nothing was learned about the password: the attempt does not count.
      await this.#giveBack(slot.giveBack);
      throw error;
    }
    if (verdict.ok) {
      await this.#giveBack(slot.giveBack);
    } else if (slot.accountExhausted && attempt.userId) {
      await this.#accountLocked({ userId: attempt.userId, ip: attempt.ip });
    }
    return { kind: "checked", verdict };
  }

  async #giveBack(giveBack: () => Promise<void>): Promise<void> {
    try {
      await giveBack();
    } catch (error) {
      // The slot stays taken: stricter, never looser.
      this.log.warn("could not give back a login failure slot", { error });
    }
  }

  async #accountLocked(event: AccountLockedEvent): Promise<void> {
    this.log.info("account-wide login failure budget ran out", { user_id: event.userId });
    try {
      await this.onAccountLocked?.(event);
    } catch (error) {
      this.log.warn("onAccountLocked failed", { error });
    }
  }
}
