import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync } from 'node:fs';
import { mkdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import pMap from 'p-map';
import { BlobStore, errCode, fsyncPath } from './blobs.ts';
import { inTurns } from './fs-now.ts';
import { distRoot, poolHref } from './dist-ref.ts';
import { inside } from './repo-layout.ts';
import type { RepoPackage } from './repo-ref.ts';

/** STORAGE_DIR/repos/dist/pool: every package of every distribution once, by content. */
export const poolDir = (storageDir: string) => join(distRoot(storageDir), 'pool');

/**
 * Puts the packages into the pool (hard links to their blobs) and makes the new names durable before an
 * index that names them can go live. A package already there costs one failed link(2): the pool is
 * append-only and a path names one content, so what is there is what we want.
 */
export async function addToPool(storageDir: string, packages: RepoPackage[]): Promise<number> {
  const blobs = new BlobStore(storageDir);
  const root = distRoot(storageDir);
  const touched = new Set<string>();
  // links are calls of microseconds, made on this thread (fs-now.ts); the directory fsyncs wait for the disk
  await inTurns(packages, async (p) => {
    const at = inside(root, poolHref(p.sha256, p.filename));
    try {
      linkSync(blobs.path(p.sha256), at);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EEXIST') return;
      if (code !== 'ENOENT' && code !== 'EXDEV') throw e;
      if (code === 'ENOENT') {
        mkdirSync(dirname(at), { recursive: true });
        touched.add(dirname(dirname(at)));
        touched.add(dirname(dirname(dirname(at))));
      }
      await blobs.linkInto(p.sha256, at); // a missing blob says so; another filesystem copies
    }
    touched.add(dirname(at));
  });
  await pMap(touched, fsyncPath, { concurrency: SYNCS_AT_ONCE });
  return touched.size;
}

/** the libuv pool runs 4 at a time; more in flight keeps it busy while results come back */
const SYNCS_AT_ONCE = 16;

/**
 * Deletes blobs nobody uses from every place they have a name: the object store and the blob store
 * (BlobStore.remove), then the pool, where a publication linked them and where a link would keep their bytes.
 * The `remove` of releaseBlobs and removeUnusedBlobs (services/db/blobs.ts); idempotent.
 */
export async function removeBlobsEverywhere(storageDir: string, shas: string[]): Promise<void> {
  await new BlobStore(storageDir).remove(shas);
  const pool = poolDir(storageDir);
  await pMap(shas, (sha) => rm(join(pool, sha.slice(0, 2), sha), { recursive: true, force: true }), { concurrency: 8 });
}

/** Makes `at` a relative symlink to `target`, replacing whatever link was there (atomic rename). */
export async function ensureSymlink(at: string, target: string): Promise<void> {
  const want = relative(dirname(at), target);
  if ((await readlink(at).catch(() => null)) === want) return;
  await mkdir(dirname(at), { recursive: true });
  const tmp = join(dirname(at), `.${randomBytes(6).toString('hex')}.link`);
  await symlink(want, tmp);
  try {
    await rename(tmp, at);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncPath(dirname(at));
}
