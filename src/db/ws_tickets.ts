import type { CredentialRef, Principal } from "../principal.ts";
import type { Db, Tx } from "./tx.ts";

/** What a ticket opens a socket as: the credential, re-checked for every message. */
export interface WsTicketGrant {
  principal: Principal;
  credential: CredentialRef;
}

/**
 * Stores a ticket (by hash) for `grant`; expired tickets are swept on the way.
 * The credential is kept by reference (a key's hash, a session id), never as
 * a secret.
 */
export async function insertWsTicket(
  sql: Db,
  input: { ticketHash: string; grant: WsTicketGrant; expiresAt: Date },
): Promise<void> {
  await sql`delete from ws_tickets where expires_at < now() - interval '1 minute'`;
  // One JSON document: the principal's fields at the top (erasure finds tickets by userId).
  const stored = { ...input.grant.principal, credential: input.grant.credential };
  await sql`
    insert into ws_tickets (ticket_hash, principal, expires_at)
    values (${input.ticketHash}, ${sql.json(stored as never)}, ${input.expiresAt})`;
}

/**
 * Redeems a ticket exactly once: the conditional update lets only one of two
 * concurrent upgrades (on any instance) win. Null when unknown, used or expired
 * (or stored without a credential reference).
 */
export async function consumeWsTicket(
  sql: Db,
  ticketHash: string,
): Promise<WsTicketGrant | null> {
  const [row] = await sql<{ principal: Principal & { credential?: CredentialRef } }[]>`
    update ws_tickets set used_at = now()
    where ticket_hash = ${ticketHash} and used_at is null and expires_at > now()
    returning principal`;
  if (!row?.principal.credential) return null;
  const { credential, ...principal } = row.principal;
  return { principal, credential };
}

/** Erasure: drops the user's outstanding tickets (they embed the user id). */
export async function deleteUserWsTickets(tx: Tx, userId: string): Promise<void> {
  await tx`delete from ws_tickets where principal ->> 'userId' = ${userId}`;
}
