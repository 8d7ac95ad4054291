import type { Principal } from "../principal.ts";
import type { Db, Tx } from "./tx.ts";

/** Stores a ticket (by hash) for `principal`; expired tickets are swept on the way. */
export async function insertWsTicket(
  sql: Db,
  input: { ticketHash: string; principal: Principal; expiresAt: Date },
): Promise<void> {
  await sql`delete from ws_tickets where expires_at < now() - interval '1 minute'`;
  await sql`
    insert into ws_tickets (ticket_hash, principal, expires_at)
    values (${input.ticketHash}, ${sql.json(input.principal as never)}, ${input.expiresAt})`;
}

/**
 * Redeems a ticket exactly once: the conditional update lets only one of two
 * concurrent upgrades (on any instance) win. Null when unknown, used or expired.
 */
export async function consumeWsTicket(sql: Db, ticketHash: string): Promise<Principal | null> {
  const [row] = await sql<{ principal: Principal }[]>`
    update ws_tickets set used_at = now()
    where ticket_hash = ${ticketHash} and used_at is null and expires_at > now()
    returning principal`;
  return row?.principal ?? null;
}

/**
 * Whether the credential a socket was opened with still stands: the user is
 * enabled, and its API key or session is neither revoked nor expired. Sockets
 * outlive tickets, so each message asks again.
 */
export async function principalStillActive(sql: Db, principal: Principal): Promise<boolean> {
  const apiKeyId = principal.apiKeyId ?? null;
  const sessionId = principal.sessionId ?? null;
  const [row] = await sql<{ active: boolean }[]>`
    select exists (
      select 1 from users u
      where u.id = ${principal.userId} and not u.disabled
        and (${apiKeyId}::uuid is null or exists (
          select 1 from api_keys k where k.id = ${apiKeyId}::uuid and k.revoked_at is null
            and (k.expires_at is null or k.expires_at > now())))
        and (${sessionId}::uuid is null or exists (
          select 1 from sessions s where s.id = ${sessionId}::uuid and s.revoked_at is null
            and s.expires_at > now()))
    ) as active`;
  return row?.active ?? false;
}

/** Erasure: drops the user's outstanding tickets (they embed the user id). */
export async function deleteUserWsTickets(tx: Tx, userId: string): Promise<void> {
  await tx`delete from ws_tickets where principal ->> 'userId' = ${userId}`;
}
