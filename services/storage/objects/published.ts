import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { BlobStore } from '../blobs.ts';
import type { DistRef } from '../dist-ref.ts';
import type { RepoRef } from '../repo-ref.ts';
import { filesBelow, packagesNamedBy, signedRank } from '../index-files.ts';
import { blobKey, pushBlobs } from './blob-copies.ts';
import type { ObjectStore } from './store.ts';

/** A live repository as this machine just published it. */
export interface PublishedTree {
  /** below PUBLIC_URL and the store's root: repos/production/foo, repos/dist/apt/debian12/dists/production */
  path: string;
  /** where the indexes' pool/… paths resolve: the repository itself, or an APT platform's archive */
  archive: string;
  /** the version's directory on this machine */
  dir: string;
}

export interface ReplicaReport {
  /** package objects made by copying their blob inside the store */
  copied: number;
  /** index and signed files put */
  put: number;
  /** files of an earlier version the new one no longer has */
  removed: number;
}

/**
 * Puts a repository the worker just published into the object store, where sites (directly, or through any
 * API process) and other workers read it: a repository is then no longer one machine's. The order keeps every
 * moment consistent for a reader, as a mirror sync does: package objects first (copied inside the store from
 * their blobs, no bytes through this machine), then the indexes, then the signed files in the order clients
 * trust them, and only then the files of the old version that the new one no longer names. The caller holds
 * the repository's lock, so no other worker writes these keys meanwhile; a failure leaves the old signed
 * index in force over complete files, and the retry puts the rest.
 */
export async function replicate(store: ObjectStore, storageDir: string, tree: PublishedTree): Promise<ReplicaReport> {
  const names = await filesBelow(tree.dir);
  const files: Array<{ key: string; file: string; sha256: string; size: number; rank: number }> = [];
  const packages = new Map<string, { sha256: string; size: number }>();
  for (const name of names) {
    const file = join(tree.dir, name);
    const bytes = await readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    files.push({ key: `${tree.path}/${name}`, file, sha256, size: bytes.length, rank: signedRank(name) ?? 0 });
    for (const p of await packagesNamedBy(name, bytes)) packages.set(`${tree.archive}/${p.href}`, p);
  }
  const listed = new Map((await store.list(`${tree.path}/`)).map((o) => [o.key, o.size]));
  if (tree.archive !== tree.path) for (const o of await store.list(`${tree.archive}/pool/`)) listed.set(o.key, o.size);
  const missing = [...packages].filter(([key, p]) => listed.get(key) !== p.size);
  const copied = await copyPackages(store, storageDir, missing);
  // ranks 0 (indexes, client file), then repomd.xml / Release, then their signatures, then InRelease
  for (const rank of [...new Set(files.map((f) => f.rank))].sort((a, b) => a - b)) {
    await pMap(
      files.filter((f) => f.rank === rank),
      (f) => store.put(f.key, f.file, f),
      { concurrency: AT_ONCE },
    );
  }
  const wanted = new Set([...files.map((f) => f.key), ...packages.keys()]);
  const stale = [...listed.keys()].filter((k) => k.startsWith(`${tree.path}/`) && !wanted.has(k));
  await pMap(stale, (k) => store.delete(k), { concurrency: AT_ONCE });
  return { copied, put: files.length, removed: stale.length };
}

/** The public keys (keys/*.asc), for sites that read the store directly; the worker puts them at start. */
export async function replicateKeys(store: ObjectStore, keysDir: string): Promise<void> {
  const names = (await readdir(keysDir)).filter((n) => n.endsWith('.asc'));
  for (const name of names) {
    const bytes = await readFile(join(keysDir, name));
    await store.put(`keys/${name}`, join(keysDir, name), { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
  }
  const stale = (await store.list('keys/')).filter((o) => !names.includes(o.key.slice('keys/'.length)));
  for (const o of stale) await store.delete(o.key);
}

/** Where a product repository is below PUBLIC_URL (and in the store). */
export const productTree = (repo: RepoRef, dir: string): PublishedTree => ({
  path: `repos/${repo.stage}/${repo.product}`,
  archive: `repos/${repo.stage}/${repo.product}`,
  dir,
});

/** Where a distribution is: a YUM repository per arch, or an APT suite in its platform's archive. */
export function distTree(d: DistRef, dir: string): PublishedTree {
  if (d.kind === 'yum') {
    const path = `repos/dist/yum/${d.platform}/${d.arch}/${d.stage}`;
    return { path, archive: path, dir };
  }
  return { path: `repos/dist/apt/${d.platform}/dists/${d.stage}`, archive: `repos/dist/apt/${d.platform}`, dir };
}

/** Each package object copied from its blob; a blob the store lacks (adopted before BLOB_STORE was set) is put first. */
async function copyPackages(store: ObjectStore, storageDir: string, missing: Array<[string, { sha256: string }]>): Promise<number> {
  const blobs = new BlobStore(storageDir);
  const copyAll = (list: typeof missing) =>
    pMap(list, async ([key, p]) => ((await store.copy(blobKey(p.sha256), key)) ? null : ([key, p] as const)), { concurrency: AT_ONCE });
  const lacking = (await copyAll(missing)).filter((x) => x !== null);
  if (lacking.length) {
    await pushBlobs(
      store,
      lacking.map(([, p]) => p.sha256),
      (sha) => blobs.path(sha),
    );
    await copyAll(lacking.map(([k, p]) => [k, p]));
  }
  return missing.length;
}

const AT_ONCE = 8;
