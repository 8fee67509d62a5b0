import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDb, dropDatabase, ensureDatabase, migrate } from '../services/db/knex.ts';
import { TEST_DATABASE_URL } from './support/env.ts';
import { alive } from '../services/pid.ts';

/**
 * One real PostgreSQL database for the suite, migrated once; each file truncates what it uses. Services
 * started by tests get a database of their own (support/service.ts), named `<suite db>_svc_<pid>_<n>`: those
 * of a test process that no longer runs (killed before its cleanup) are dropped here.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // test packages built once per run (support/packages.ts); the test processes inherit the variable
  const packages = await mkdtemp(join(tmpdir(), 'rd-test-packages-'));
  process.env.RD_TEST_PACKAGES_CACHE = packages;
  await ensureDatabase(TEST_DATABASE_URL);
  await dropOrphans();
  const db = createDb(TEST_DATABASE_URL);
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
  return () => rm(packages, { recursive: true, force: true });
}

async function dropOrphans(): Promise<void> {
  const url = new URL(TEST_DATABASE_URL);
  const base = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  let names: string[];
  try {
    names = (await client.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${base}_svc_`])).rows.map(
      (r: { datname: string }) => r.datname,
    );
  } finally {
    await client.end();
  }
  for (const name of names) {
    const pid = Number(/_svc_(\d+)_\d+$/.exec(name)?.[1]);
    if (!pid || alive(pid)) continue;
    url.pathname = `/${name}`;
    await dropDatabase(url.toString());
  }
}
