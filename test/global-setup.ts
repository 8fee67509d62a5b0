import { createDb, ensureDatabase, migrate } from '../services/db/knex.ts';
import { TEST_DATABASE_URL } from './support/env.ts';

/** One real PostgreSQL database for the suite, migrated once; each file truncates what it uses. */
export default async function setup(): Promise<void> {
  await ensureDatabase(TEST_DATABASE_URL);
  const db = createDb(TEST_DATABASE_URL);
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
}
