import type { Db } from './db/knex.ts';
import { RdError } from './errors.ts';

/** The one place that names serialisation keys. */
export const lockKeys = {
  ticket: (ticketId: number) => `ticket:${ticketId}`,
  repo: (stage: string, product: string) => `repo:${stage}:${product}`,
} as const;

/**
 * Runs `fn` holding session-level advisory locks on a dedicated connection: a worker killed with -9
 * drops its connection, and PostgreSQL releases the locks with it. Keys are taken in sorted order so two
 * holders of overlapping sets cannot deadlock.
 */
export async function withLocks<T>(db: Db, keys: string[], fn: () => Promise<T>, waitMs = 30_000): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const conn = await db.client.acquireConnection();
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
    await conn.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await conn.query('RESET lock_timeout').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}
