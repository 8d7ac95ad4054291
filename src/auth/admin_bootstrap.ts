/**
 * The first admin: `ADMIN_EMAIL` / `ADMIN_PASSWORD` at start, and the
 * `deno task admin` command. Without it a self-hosted instance could make
 * users but never an admin, short of SQL.
 */
import { audit } from "../db/audit.ts";
import type { Sql } from "../db/client.ts";
import { revokeAllSessions } from "../db/sessions.ts";
import { findUserByEmail, promoteToAdmin, upsertAdmin } from "../db/users.ts";
import { checkPasswordPolicy, hashPassword, type ScryptParams } from "./passwords.ts";

/** A start-up refusal the operator must fix; the message says how. */
export class AdminBootstrapError extends Error {
  override name = "AdminBootstrapError";
}

/** Start-up and the command line act outside any HTTP request. */
const NO_REQUEST = { ip: null, requestId: null };

export type AdminOutcome = "created" | "promoted" | "unchanged";

export interface AdminResult {
  outcome: AdminOutcome;
  userId: string | null;
}

/** Refuses a password the registration policy would refuse, with the policy's reason. */
export async function assertAdminPassword(
  email: string,
  password: string,
  variable = "ADMIN_PASSWORD",
): Promise<void> {
  const problem = await checkPasswordPolicy(password, { email });
  if (problem) {
    throw new AdminBootstrapError(
      `${variable}: refused by the password policy: ${problem} ` +
        "Choose a longer, less predictable password (8 to 256 characters).",
    );
  }
}

/**
 * Creates `email` as an admin with `password`, or promotes the existing user
 * (whose password stays as it is). Idempotent; concurrent calls on several
 * instances end with one admin row. A promotion ends the user's sessions, as
 * any role change does, so the next login carries the role.
 */
export async function ensureAdmin(
  sql: Sql,
  input: { email: string; password: string; scrypt: ScryptParams; actor: string },
): Promise<AdminResult> {
  await assertAdminPassword(input.email, input.password);
  const existing = await findUserByEmail(sql, input.email);
  // Already an admin: nothing to do, and no scrypt cost on every start.
  if (existing?.role === "admin") return { outcome: "unchanged", userId: existing.id };
  const passwordHash = await hashPassword(input.password, input.scrypt);
  return await sql.begin(async (tx) => {
    const result = await upsertAdmin(tx, { email: input.email, passwordHash });
    if (result.outcome === "unchanged") {
      // Another instance got there between the read and the write.
      const winner = await findUserByEmail(tx, input.email);
      return { outcome: "unchanged" as const, userId: winner?.id ?? null };
    }
    if (result.outcome === "promoted") await revokeAllSessions(tx, result.user.id, "role_change");
    await audit(
      tx,
      NO_REQUEST,
      result.outcome === "created" ? "admin.bootstrap_created" : "user.role_change",
      { userId: result.user.id, detail: { role: "admin", via: input.actor } },
    );
    return { outcome: result.outcome, userId: result.user.id };
  });
}

/** `deno task admin promote <email>`: an existing user becomes an admin. */
export async function promoteExistingUser(
  sql: Sql,
  email: string,
): Promise<AdminResult | null> {
  return await sql.begin(async (tx) => {
    const result = await promoteToAdmin(tx, email);
    if (!result) return null;
    if (!result.changed) return { outcome: "unchanged" as const, userId: result.user.id };
    await revokeAllSessions(tx, result.user.id, "role_change");
    await audit(tx, NO_REQUEST, "user.role_change", {
      userId: result.user.id,
      detail: { role: "admin", via: "deno task admin promote" },
    });
    return { outcome: "promoted" as const, userId: result.user.id };
  });
}
