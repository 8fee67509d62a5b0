/**
 * PostgreSQL advisory locks: the serialisation keys, and the sessions that hold them. Jobs declare theirs
 * (the action job's `exclusive`), steps and loops take their own.
 */
import pg from 'pg';
import { RdError } from '../errors.ts';
import type { Db } from './knex.ts';

/** The one place that names serialisation keys: `<kind>:<part>...`, one part per argument. */
export const lockKeys = {
  ticket: (ticketId: number) => `ticket:${ticketId}`,
  repo: (stage: string, product: string) => `repo:${stage}:${product}`,
  /** a distribution's unit of publication (services/storage/dist-ref.ts distUnit) */
  dist: (unit: string) => `dist:${unit}`,
  loop: (name: string) => `loop:${name}`,
} as const;

/** Whether lockKeys could have made `key`: a kind it names, and one non-empty part per argument. */
export function isLockKey(key: string): boolean {
  const [kind = '', ...parts] = key.split(':');
  if (!Object.hasOwn(lockKeys, kind)) return false;
  return parts.length === lockKeys[kind as keyof typeof lockKeys].length && parts.every((p) => p !== '');
}

/**
 * A PostgreSQL session of its own, outside the query pool. Lock holders wait on queries; were their locks
 * held on pooled connections, a few busy jobs would take the whole pool and wait forever for a connection
 * to run those queries on.
 */
export async function lockSession(db: Db): Promise<pg.Client> {
  const client = new pg.Client(db.client.config.connection as pg.ClientConfig | string);
  // a session PostgreSQL drops takes its locks with it; the holder learns it from its next query
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Runs `fn` holding session-level advisory locks on a session of their own: a worker killed with -9
 * drops its sessions, and PostgreSQL releases the locks with them. Keys are taken in sorted order so two
 * holders of overlapping sets cannot deadlock.
 */
export async function withLocks<T>(db: Db, keys: string[], fn: () => Promise<T>, waitMs = 30_000): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const conn = await lockSession(db);
  try {
    await conn.query(`SET lock_timeout = ${Math.max(1, Math.floor(waitMs))}`);
    for (const key of sorted) {
      try {
        await conn.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
      } catch (e) {
        if ((e as { code?: string }).code === '55P03') throw new RdError('RD_BUSY', `${key} is held by another job`);
        throw e;
      }
    }
    return await fn();
  } finally {
    await conn.end().catch(() => undefined); // ending the session releases its locks
  }
}

/** Takes `key` on `session` if nobody holds it; false when someone does. */
export async function tryLock(session: pg.Client, key: string): Promise<boolean> {
  return (await session.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [key])).rows[0].ok;
}

export async function unlock(session: pg.Client, key: string): Promise<void> {
  await session.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
}
