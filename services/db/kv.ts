/** The kv table: small named values the service keeps for itself. */
import type { Db } from './knex.ts';

/** The value under `key`; undefined while none was set. */
export async function readValue(db: Db, key: string): Promise<string | undefined> {
  return (await db('kv').where({ key }).first())?.value;
}

/** Sets the value unless one is there already (another process may have set it first). */
export async function initValue(db: Db, key: string, value: string): Promise<void> {
  await db('kv').insert({ key, value }).onConflict('key').ignore();
}

export async function writeValue(db: Db, key: string, value: string): Promise<void> {
  await db('kv').where({ key }).update({ value });
}
