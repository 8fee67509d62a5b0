import { rm, stat } from 'node:fs/promises';
import pMap from 'p-map';
import { RdError } from '../../errors.ts';
import { digestOfPoolPath } from '../index-files.ts';
import { holds, type ObjectStore } from './store.ts';

/** Where a blob is in an object store: blobs/<aa>/<sha256>, as in STORAGE_DIR. */
export const blobKey = (sha256: string) => `blobs/${sha256.slice(0, 2)}/${sha256}`;

/**
 * Puts each blob the store does not hold yet (same size, same recorded sha256), read from `fileOf(sha)`:
 * a blob is sent once, whichever worker adopts it again. Returns the digests it sent.
 */
export async function pushBlobs(store: ObjectStore, shas: Iterable<string>, fileOf: (sha256: string) => string): Promise<string[]> {
  const sent: string[] = [];
  await pMap(
    new Set(shas),
    async (sha256) => {
      const file = fileOf(sha256);
      const digest = { sha256, size: (await stat(file)).size };
      if (await holds(store, blobKey(sha256), digest)) return;
      await store.put(blobKey(sha256), file, digest);
      sent.push(sha256);
    },
    { concurrency: PUTS_AT_ONCE },
  );
  return sent;
}

/**
 * Gets a blob from the store into `dest` (checked against the sha256 it records); null when the store does
 * not have it. An object recording another sha256 than its key is RD_STORE_CORRUPT, and `dest` is not left.
 */
export async function pullBlob(store: ObjectStore, sha256: string, dest: string): Promise<number | null> {
  const got = await store.get(blobKey(sha256), dest);
  if (!got) return null;
  if (got.sha256 !== sha256) {
    await rm(dest, { force: true });
    throw new RdError('RD_STORE_CORRUPT', `object ${blobKey(sha256)} holds sha256 ${got.sha256}, not its key's`, { key: blobKey(sha256) });
  }
  return got.size;
}

/**
 * The keys a blob has in the store: its copy at blobKey. A key that holds a blob's bytes under another name
 * (e.g. a published repository's pool path) is deleted with the blob when it is named here, or by the caller
 * of forgetBlobs.
 */
export const keysOfBlob = (sha256: string): string[] => [blobKey(sha256)];

/**
 * Deletes every key of each blob from the store (an absent key is not an error), a few at once. The first
 * failure is thrown as the store said it (RD_STORE_UNAVAILABLE, RD_STORE_REFUSED): a caller that drops its
 * record of the blobs only after this returns finds them again on its next run, and deletes what is left.
 */
export async function forgetBlobs(
  store: ObjectStore,
  shas: Iterable<string>,
  keysOf: (sha256: string) => string[] | Promise<string[]> = keysOfBlob,
): Promise<void> {
  const wanted = new Set(shas);
  if (wanted.size === 0) return;
  const keys = (await Promise.all([...wanted].map(keysOf))).flat();
  await pMap(keys, (key) => store.delete(key), { concurrency: PUTS_AT_ONCE });
  await pMap(await aptPoolCopies(store, wanted), (key) => store.delete(key), { concurrency: PUTS_AT_ONCE });
}

/**
 * The copies of these blobs in the APT archives' pools (repos/dist/apt/<platform>/pool/<aa>/<sha256>/<file>,
 * published by services/storage/objects/published.ts). An archive's stages share its pool, so no
 * publication deletes from it; the blob's purge does. Other repositories' pool copies go with the version
 * that stops naming them.
 */
async function aptPoolCopies(store: ObjectStore, shas: Set<string>): Promise<string[]> {
  return (await store.list('repos/dist/apt/')).map((o) => o.key).filter((key) => shas.has(digestOfPoolPath(key) ?? ''));
}

const PUTS_AT_ONCE = 4;
