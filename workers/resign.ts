import type { Db } from '../services/db/knex.ts';
import { initValue, readValue, writeValue } from '../services/db/kv.ts';
import { lockKeys, withLocks } from '../services/db/locks.ts';
import type { Logger } from '../services/log.ts';
import type { Signer } from '../services/signing/signer.ts';
import { liveRepositories, resignRepository, type LiveRepository } from '../services/storage/resign.ts';
import { every } from './loops.ts';
import { RdError } from '../services/errors.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { publishedRepos, recordPublished } from '../services/db/published.ts';
import { objectStoreOf } from '../services/storage/objects/open.ts';
import { resignStored } from '../services/storage/objects/published.ts';
import { parseLivePath } from '../services/storage/live-path.ts';
import { distUnit } from '../services/storage/dist-ref.ts';

/** The keys the live repositories were last signed with, all of them (kv). */
const SIGNED_WITH = 'signing:fingerprints';

const lockOf = (r: LiveRepository) => (r.lock.kind === 'repo' ? lockKeys.repo(r.lock.stage, r.lock.product) : lockKeys.dist(r.lock.unit));

/**
 * After the configured signing keys changed (a rotation's restart), signs every live repository again with
 * the keys now configured, each under its publication lock, so a site holding only the new key verifies
 * every repository without waiting for each to be published again. Also signs what an older releasedesk
 * published unsigned. Returns how many repositories it signed; nothing when the keys did not change.
 */
export async function resignIfKeysChanged(
  db: Db,
  storageDir: string,
  signer: Pick<Signer, 'signRepository' | 'fingerprints'>,
  log: Logger,
) {
  const want = [...signer.fingerprints].sort().join(',');
  const had = await readValue(db, SIGNED_WITH);
  if (had === want) return 0;
  const repos = await liveRepositories(storageDir);
  log.info({ repositories: repos.length, from: had ?? null, to: want }, 'signing keys changed: signing every live repository again');
  let done = 0;
  for (const r of repos) {
    await withLocks(db, [lockOf(r)], () => resignRepository(r, signer), 600_000);
    done++;
    if (done % 50 === 0 || done === repos.length) log.info({ done, of: repos.length, last: r.name }, 're-signing repositories');
  }
  done += await resignStore(db, storageDir, signer, log);
  if (had === undefined) await initValue(db, SIGNED_WITH, want);
  else await writeValue(db, SIGNED_WITH, want);
  return done;
}

/** Checks at start and hourly; one process at a time (a loop lock). */
export const resignLoop = (db: Db, storageDir: string, signer: Pick<Signer, 'signRepository' | 'fingerprints'>, log: Logger) =>
  every(db, 'resign', 3_600_000, log, async () => void (await resignIfKeysChanged(db, storageDir, signer, log)), true);

/**
 * With an object store, the repositories it holds are what sites read, whichever machine published them:
 * each is signed again from the store's copy, under its lock, and recorded.
 */
async function resignStore(db: Db, storageDir: string, signer: Pick<Signer, 'signRepository'>, log: Logger): Promise<number> {
  const store = objectStoreOf(storageDir);
  if (!store) return 0;
  const rows = await publishedRepos(db);
  const scratch = join(storageDir, 'tmp');
  await mkdir(scratch, { recursive: true });
  for (const [i, row] of rows.entries()) {
    const shape = parseLivePath(row.path);
    if (!shape) throw new RdError('RD_INTERNAL', `published_repos names ${row.path}, which is no repository path`);
    // the lock its publications hold
    const at = shape.scope;
    const key =
      'product' in at
        ? lockKeys.repo(at.stage, at.product)
        : lockKeys.dist(distUnit({ stage: at.stage, kind: at.kind, platform: at.platform, arch: at.arch ?? 'all' }));
    await withLocks(db, [key], async () => recordPublished(db, await resignStored(store, storageDir, row, signer, scratch)), 600_000);
    if ((i + 1) % 50 === 0 || i + 1 === rows.length)
      log.info({ done: i + 1, of: rows.length, last: row.path }, "re-signing the object store's repositories");
  }
  return rows.length;
}
