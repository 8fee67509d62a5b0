/** Advisory locks on the real PostgreSQL: held outside the query pool, serialising, released by a dropped session. */
import { afterAll, describe, expect, it } from 'vitest';
import { createDb } from '../../../services/db/knex.ts';
import { lockSession, withLocks } from '../../../services/db/locks.ts';
import { TEST_DATABASE_URL } from '../../support/env.ts';

const db = createDb(TEST_DATABASE_URL, { min: 0, max: 2 });
afterAll(() => db.destroy());

describe('withLocks', () => {
  it('more holders than the query pool has connections still run their queries (no pool starvation)', async () => {
    const done = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        withLocks(
          db,
          [`t:starve:${i}`],
          async () => {
            await new Promise((r) => setTimeout(r, 50)); // all eight hold their lock at once
            return Number((await db.raw('SELECT ?::int AS n', [i])).rows[0].n);
          },
          5_000,
        ),
      ),
    );
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  }, 20_000);

  it('serialises holders of one key', async () => {
    const log: string[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        withLocks(db, ['t:serial'], async () => {
          log.push(`in ${n}`);
          await new Promise((r) => setTimeout(r, 30));
          log.push(`out ${n}`);
        }),
      ),
    );
    for (let i = 0; i < log.length; i += 2) expect(log[i + 1]!.slice(4)).toBe(log[i]!.slice(3));
  });

  it('a session that dies releases its locks (a worker killed with -9)', async () => {
    const s = await lockSession(db);
    await s.query("SELECT pg_advisory_lock(hashtextextended('t:dies', 0))");
    await expect(withLocks(db, ['t:dies'], async () => 'got it', 200)).rejects.toMatchObject({ code: 'RD_BUSY' });
    const pid = (await s.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    await db.raw('SELECT pg_terminate_backend(?)', [pid]);
    expect(await withLocks(db, ['t:dies'], async () => 'got it', 2_000)).toBe('got it');
    await s.end().catch(() => undefined);
  });
});
