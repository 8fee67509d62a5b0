import { afterAll, beforeEach } from 'vitest';
import { createDb, type Db } from '../../services/db/knex.ts';
import { TEST_DATABASE_URL } from './env.ts';

const TABLES = [
  'stage_members',
  'checkpoints',
  'outbox',
  'transitions',
  'packages',
  'blob_claims',
  'blobs',
  'releases',
  'inbox',
  'kv',
  'product_revisions',
  'index_entries',
  'mirror_targets',
  'mirror_objects',
  'mirror_notices',
  'sla_notices',
  'api_tokens',
  'published_repos',
];

/** A knex handle on the test database, emptied before each test of the calling file. */
export function useTestDb(): { db: Db } {
  const holder = { db: createDb(TEST_DATABASE_URL) };
  beforeEach(async () => {
    await holder.db.raw(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`);
  });
  afterAll(async () => {
    await holder.db.destroy();
  });
  return holder;
}
