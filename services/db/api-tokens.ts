/** Personal API tokens: issued by a signed-in person, kept as sha256 only. */
import type { Db } from './knex.ts';

export interface ApiTokenRow {
  id: number;
  user_name: string;
  label: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertToken(db: Db, user: string, label: string, sha256: string): Promise<number> {
  const [row] = await db('api_tokens').insert({ user_name: user, label, token_sha256: sha256 }).returning('id');
  return Number(row.id);
}

/** The user a live token acts as; marks it used (at most once a minute). */
export async function userOfToken(db: Db, sha256: string): Promise<string | null> {
  const row = await db('api_tokens').where({ token_sha256: sha256 }).whereNull('revoked_at').first('id', 'user_name', 'last_used_at');
  if (!row) return null;
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000)
    await db('api_tokens').where({ id: row.id }).update({ last_used_at: db.fn.now() });
  return row.user_name;
}

export const tokensOf = (db: Db, user: string): Promise<ApiTokenRow[]> =>
  db('api_tokens')
    .where({ user_name: user })
    .orderBy('id', 'desc')
    .select('id', 'user_name', 'label', 'created_at', 'last_used_at', 'revoked_at');

/** Revokes one of the user's own tokens; false when it is not theirs or already revoked. */
export async function revokeToken(db: Db, user: string, id: number): Promise<boolean> {
  return (await db('api_tokens').where({ id, user_name: user }).whereNull('revoked_at').update({ revoked_at: db.fn.now() })) === 1;
}
