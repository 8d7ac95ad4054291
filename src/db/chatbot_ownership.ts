import type { Db } from "./tx.ts";

/** Whether `chatbotId` exists and belongs to `userId` (others' look missing). */
export async function chatbotOwnedBy(sql: Db, chatbotId: string, userId: string): Promise<boolean> {
  const rows = await sql`select 1 from chatbots where id = ${chatbotId} and user_id = ${userId}`;
  return rows.length > 0;
}
