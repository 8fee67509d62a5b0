import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exportsDir } from '../bundles/export.ts';
import { removeUnusedBlobs } from '../db/blobs.ts';
import type { Db } from '../db/knex.ts';
import { isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { BlobStore, errCode } from '../storage/blobs.ts';
import { removeBlobsEverywhere } from '../storage/dist-pool.ts';

/**
 * The files a purge deletes. With an object store behind STORAGE_DIR (BLOB_STORE) a blob is deleted there
 * too, and first (BlobStore.remove): its row goes only once the store and this machine no longer hold it, so
 * a store that fails leaves the row and the next run's leftovers delete what is left.
 */

/** Before anything is purged: a purge's ticket comment says its files are deleted, which an away store would belie. */
export async function storeAnswers(storageDir: string, log: Logger): Promise<void> {
  const store = new BlobStore(storageDir).objects;
  if (!store) return;
  await store.ping().catch((e) => {
    log.error({ err: e, store: store.where }, 'gc not run: the object store behind the blobs does not answer; nothing was purged');
    throw e;
  });
}

/** Deletes the blobs among `shas` nobody uses any more (object store, blob store, pool); returns those deleted. */
export async function removeBlobs(db: Db, log: Logger, storageDir: string, shas: string[]): Promise<string[]> {
  const blobs = new BlobStore(storageDir);
  try {
    return await removeUnusedBlobs(db, shas, (unused) => removeBlobsEverywhere(storageDir, unused));
  } catch (e) {
    if (isRdError(e) && (e.code === 'RD_STORE_UNAVAILABLE' || e.code === 'RD_STORE_REFUSED'))
      log.error(
        { err: e, store: blobs.objects?.where, files: shas.length },
        'gc stopped: the object store did not delete the blobs; they stay recorded, and a later run deletes them (leftovers a day old)',
      );
    throw e;
  }
}

/** Its exported bundles carry the packages byte for byte: they go with them. */
export async function removeExports(storageDir: string, ticket: number): Promise<void> {
  const dir = exportsDir(storageDir);
  const names = await readdir(dir).catch((e) => (errCode(e) === 'ENOENT' ? [] : Promise.reject(e)));
  for (const n of names.filter((x) => x.includes(`-t${ticket}.bundle.tar.gz`))) await rm(join(dir, n), { force: true });
}
