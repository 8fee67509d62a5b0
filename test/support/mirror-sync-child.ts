/**
 * One mirror sync in a process of its own, for the fault tests to SIGKILL mid-way:
 * node test/support/mirror-sync-child.ts '<json {databaseUrl, storageDir, target}>'
 */
import { createDb } from '../../services/db/knex.ts';
import { createLogger } from '../../services/log.ts';
import { syncTarget } from '../../services/mirror/sync.ts';

const { databaseUrl, storageDir, target } = JSON.parse(process.argv[2]!);
const db = createDb(databaseUrl);
try {
  const r = await syncTarget(target, { db, log: createLogger('silent'), storageDir });
  console.log(JSON.stringify({ uploaded: r.upload.files }));
} finally {
  await db.destroy();
}
