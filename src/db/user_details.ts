import type { Db } from "./tx.ts";

/** Free-form JSON a chatbot may pass to a model (bounded by the route's schema). */
export type JsonObject = Record<string, unknown>;

export interface UserDetailsRow {
  user_id: string;
  profile: JsonObject;
  preferences: JsonObject;
  profile_data: string | null;
  updated_at: Date;
}

/** Replaces the user's details in one statement, so readers never see half an update. */
export async function replaceUserDetails(
  sql: Db,
  input: {
    userId: string;
    profile: JsonObject;
    preferences: JsonObject;
    profileData: string | null;
  },
): Promise<UserDetailsRow> {
  const [row] = await sql<UserDetailsRow[]>`
    insert into user_details (user_id, profile, preferences, profile_data)
    values (${input.userId}, ${sql.json(input.profile as never)},
            ${sql.json(input.preferences as never)}, ${input.profileData})
    on conflict (user_id) do update set
      profile = excluded.profile,
      preferences = excluded.preferences,
      profile_data = excluded.profile_data,
      updated_at = now()
    returning user_id, profile, preferences, profile_data, updated_at`;
  return row!;
}

export async function findUserDetails(sql: Db, userId: string): Promise<UserDetailsRow | null> {
  const [row] = await sql<UserDetailsRow[]>`
    select user_id, profile, preferences, profile_data, updated_at
    from user_details where user_id = ${userId}`;
  return row ?? null;
}
