/**
 * RESP replies in the shape of the Upstash REST API: shared by the Redis
 * adapter and the tests' Upstash-protocol server, so both translate alike.
 */
import { ErrorReply, MultiErrorReply } from "redis";
import type { PreparedCommand } from "./lua_compat.ts";

export type Json = string | number | null | Json[];
export type RestReply = { result: Json } | { error: string };

/** RESP2 reply -> the JSON value the Upstash REST API would have returned. */
export function toJson(reply: unknown): Json {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string" || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map(toJson);
  if (reply instanceof Error) return reply.message; // nested error inside an array reply
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  return String(reply);
}

interface Transaction {
  addCommand(args: readonly string[]): unknown;
  exec(): Promise<unknown[]>;
}

/** Runs prepared commands in MULTI/EXEC; per-command failures are per-command replies. */
export async function execTransaction(
  multi: Transaction,
  prepared: readonly PreparedCommand[],
  guard: (exec: Promise<unknown[]>) => Promise<unknown[]> = (exec) => exec,
): Promise<RestReply[]> {
  for (const { args } of prepared) multi.addCommand(args);
  let replies: unknown[];
  try {
    replies = await guard(multi.exec());
  } catch (error) {
    if (!(error instanceof MultiErrorReply)) throw error;
    replies = error.replies;
  }
  return replies.map((reply, i) =>
    reply instanceof ErrorReply
      ? { error: reply.message }
      : { result: toJson(prepared[i] ? prepared[i].mapReply(reply) : reply) }
  );
}
