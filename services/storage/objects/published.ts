import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pMap from 'p-map';
import { RdError } from '../../errors.ts';
import type { Signer } from '../../signing/signer.ts';
import { BlobStore, sha256File } from '../blobs.ts';
import { SIGNATURES } from '../resign.ts';
import type { DistRef } from '../dist-ref.ts';
import type { RepoKind, RepoRef, Stage } from '../repo-ref.ts';
import type { PublishedFile, PublishedRow } from '../../db/published.ts';
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
  stage: Stage;
  kind: RepoKind;
}

export interface ReplicaReport {
  /** package objects made by copying their blob inside the store */
  copied: number;
  /** index and signed files put */
  put: number;
  /** files of an earlier version the new one no longer names */
  removed: number;
  /** the repository's index and signed files as the store now holds them (what published_repos records) */
  files: PublishedFile[];
}

/**
 * Puts a repository the worker just published into the object store, where sites (directly, or through any
 * API process) and other workers read it: a repository is then no longer one machine's. The order keeps every
 * moment consistent for a reader, as a mirror sync does: package objects first when sites read the store
 * (copied inside the store from their blobs, no bytes through this machine), then the indexes, then the signed files in the order clients
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
    // read through the service, a pool path is served from its blob (services/api/repos.ts): the store
    // keeps each package once, and only a store sites read holds package objects per repository
    if (store.sitesRead) for (const p of await packagesNamedBy(name, bytes)) packages.set(`${tree.archive}/${p.href}`, p);
  }
  const listed = new Map((await store.list(`${tree.path}/`)).map((o) => [o.key, o.size]));
  if (tree.archive !== tree.path && store.sitesRead) for (const o of await store.list(`${tree.archive}/pool/`)) listed.set(o.key, o.size);
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
  const held = files.map((f) => ({ name: f.key.slice(tree.path.length + 1), sha256: f.sha256, size: f.size }));
  return { copied, put: files.length, removed: stale.length, files: held };
}

/** The public keys (keys/*.asc), for sites that read the store directly; the worker puts them at start. */
export async function replicateKeys(store: ObjectStore, keysDir: string): Promise<void> {
  const names = (await readdir(keysDir)).filter((n) => n.endsWith('.asc'));
  for (const name of names) {
    await store.put(`keys/${name}`, join(keysDir, name), await sha256File(join(keysDir, name)));
  }
  const stale = (await store.list('keys/')).filter((o) => !names.includes(o.key.slice('keys/'.length)));
  for (const o of stale) await store.delete(o.key);
}

/** Where a product repository is below PUBLIC_URL (and in the store). */
export const productTree = (repo: RepoRef, dir: string): PublishedTree => ({
  path: `repos/${repo.stage}/${repo.product}`,
  archive: `repos/${repo.stage}/${repo.product}`,
  dir,
  stage: repo.stage,
  kind: repo.kind,
});

/** Where a distribution is: a YUM repository per arch, or an APT suite in its platform's archive. */
export function distTree(d: DistRef, dir: string): PublishedTree {
  if (d.kind === 'yum') {
    const path = `repos/dist/yum/${d.platform}/${d.arch}/${d.stage}`;
    return { path, archive: path, dir, stage: d.stage, kind: d.kind };
  }
  return {
    path: `repos/dist/apt/${d.platform}/dists/${d.stage}`,
    archive: `repos/dist/apt/${d.platform}`,
    dir,
    stage: d.stage,
    kind: d.kind,
  };
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

/** What published_repos records of a repository once the store holds it; the stamp changes exactly when its files do. */
export function publishedRow(tree: PublishedTree, files: PublishedFile[]): PublishedRow {
  const sorted = files.toSorted((a, b) => (a.name < b.name ? -1 : 1));
  const stamp = createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
  return { path: tree.path, stage: tree.stage, kind: tree.kind, archive: tree.archive, files: sorted, stamp };
}

/**
 * Signs a repository the store holds again with the keys now configured (a rotation), whichever machine
 * published it: its files but the signatures are got from the store into `scratch`, signed there, and put
 * back as a publication puts them (signed files last). Call it under the repository's lock.
 */
export async function resignStored(
  store: ObjectStore,
  storageDir: string,
  row: PublishedRow,
  signer: Pick<Signer, 'signRepository'>,
  scratch: string,
): Promise<PublishedRow> {
  const dir = await mkdtemp(join(scratch, 'resign-'));
  try {
    for (const f of row.files.filter((x) => !SIGNATURES.has(x.name.slice(x.name.lastIndexOf('/') + 1)))) {
      await mkdir(dirname(join(dir, f.name)), { recursive: true });
      if (!(await store.get(`${row.path}/${f.name}`, join(dir, f.name))))
        throw new RdError('RD_STORE_UNAVAILABLE', `${store.where}: ${row.path}/${f.name} is gone from the store`);
    }
    await signer.signRepository(dir, row.kind);
    const tree: PublishedTree = { path: row.path, archive: row.archive, dir, stage: row.stage as Stage, kind: row.kind };
    return publishedRow(tree, (await replicate(store, storageDir, tree)).files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
