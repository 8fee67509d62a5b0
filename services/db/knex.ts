/** The database handle, its migrations and its health check. Every SQL statement lives in services/db. */
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from '../../migrations/index.ts';
import type { Logger } from '../log.ts';

export type Db = Knex;
/** Either the pool or a transaction: functions that may run inside the caller's transaction take this. */
export type Exec = Db | Knex.Transaction;

// bigint columns (ids, sizes) fit in a JS number for our ranges; read them as numbers
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createDb(databaseUrl: string, pool = { min: 0, max: 10 }, log?: Logger): Db {
  const l = log?.child({ component: 'knex' });
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool,
    // knex's own warnings (a connection lost or refused while PostgreSQL restarts) go to the service log,
    // as JSON lines like the rest, not to the console
    ...(l && {
      log: {
        warn: (m: string) => l.warn(m),
        error: (m: string) => l.error(m),
        deprecate: (m: string, alt: string) => l.warn(`${m} is deprecated; use ${alt}`),
        debug: () => undefined,
      },
    }),
  });
}

/** Creates the database named in the URL when it does not exist (fresh machines, tests). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (e) {
    // two processes starting at once: the loser sees duplicate_database
    if ((e as { code?: string }).code !== '42P04') throw e;
  } finally {
    await client.end();
  }
}

/** Drops the database of this URL if it exists, ending its sessions (tests: a database per service). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Answers when PostgreSQL does (the health check). */
export async function ping(db: Db): Promise<void> {
  await db.raw('SELECT 1');
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}
