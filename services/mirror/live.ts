import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { join, relative } from 'node:path';
import type { Db } from '../db/knex.ts';
import { publishedRepos, type PublishedRow } from '../db/published.ts';
import { RdError } from '../errors.ts';
import { errCode, sha256File } from '../storage/blobs.ts';
import { distClientFileName, distClientFileText } from '../storage/dist-url.ts';
import type { DistRef } from '../storage/dist-ref.ts';
import { digestOfPoolPath, filesBelow } from '../storage/index-files.ts';
import { parseLivePath, type LiveScope } from '../storage/live-path.ts';
import { blobKey } from '../storage/objects/blob-copies.ts';
import { objectStoreOf } from '../storage/objects/open.ts';
import type { ObjectStore } from '../storage/objects/store.ts';
import type { RepoKind, Stage } from '../storage/repo-ref.ts';
import { clientFileName, clientFileText } from '../storage/repo-url.ts';
import type { MirrorFile } from './files.ts';

/**
 * A live repository as a site sees it, wherever it is kept: on this machine's disk (one machine), or in the
 * object store (several worker machines: whichever published last, the store holds it and published_repos
 * says so). Mirror syncs and drift checks read repositories only through this.
 */
export interface LiveRepo {
  /** below PUBLIC_URL, e.g. repos/production/foo or repos/dist/apt/deb12/dists/production */
  path: string;
  /** what the records say it shows: a product's releases, or a distribution's (every arch of an APT suite) */
  scope: LiveScope;
  /** where the index's package paths (pool/…) resolve, below PUBLIC_URL */
  archive: string;
  clientFile?: { name: string; text: (publicUrl: string) => string };
  /** names the version: changes exactly when one of its files does */
  version: string;
  /** its index and signed files (and its client file), relative to path */
  names(): Promise<string[]>;
  read(name: string): Promise<Buffer>;
  /** where a sync reads a file of it from */
  source(name: string, bytes: Buffer): MirrorFile['source'];
  /**
   * A package its index names (href below archive): its size and, when `deep`, its sha256 (the store's: the
   * digest it recorded on the object); null when it is not there.
   */
  packageFile(href: string, deep: boolean): Promise<{ size: number; sha256?: string } | null>;
}

/** The stage's live repositories: those in the object store, when there is one, then those only on this disk. */
export async function liveRepositories(db: Db, storageDir: string, stage: Stage): Promise<LiveRepo[]> {
  const store = objectStoreOf(storageDir);
  const disk = await diskRepositories(storageDir, stage);
  if (!store) return disk;
  const stored = (await publishedRepos(db, stage)).map((row) => storedRepo(store, row));
  // published before BLOB_STORE was set, and not since: served from the disk, so mirrored from it too
  const seen = new Set(stored.map((r) => r.path));
  return [...stored, ...disk.filter((r) => !seen.has(r.path))];
}

function storedRepo(store: ObjectStore, row: PublishedRow): LiveRepo {
  const shape = shapeOf(row.path, row.kind);
  if (!shape) throw new RdError('RD_INTERNAL', `published_repos names ${row.path}, which is no repository path`);
  return {
    ...shape,
    version: `store:${row.stamp}`,
    names: async () => row.files.map((f) => f.name),
    read: async (name) => {
      const got = await store.open(`${row.path}/${name}`);
      if (!got) throw new RdError('RD_STORE_UNAVAILABLE', `${store.where}: ${row.path}/${name} is gone from the store`);
      return buffer(got.body);
    },
    source: (_name, bytes) => ({ bytes }),
    packageFile: async (href) => {
      // read through the service, a pool path is its blob's (services/api/repos.ts)
      const sha = digestOfPoolPath(href);
      const h = await store.head(store.sitesRead || !sha ? `${shape.archive}/${href}` : blobKey(sha));
      return h && { size: h.size, ...(h.sha256 ? { sha256: h.sha256 } : {}) };
    },
  };
}

/** The repositories on this machine's disk: each live link resolved once, so a swap meanwhile mixes nothing. */
async function diskRepositories(storageDir: string, stage: Stage): Promise<LiveRepo[]> {
  const candidates: Array<{ path: string; kind?: RepoKind }> = [];
  for (const product of await dirNames(join(storageDir, 'repos', stage))) candidates.push({ path: `repos/${stage}/${product}` });
  const dist = join(storageDir, 'repos', 'dist');
  for (const platform of await dirNames(join(dist, 'yum')))
    for (const arch of await dirNames(join(dist, 'yum', platform)))
      candidates.push({ path: `repos/dist/yum/${platform}/${arch}/${stage}`, kind: 'yum' });
  for (const platform of await dirNames(join(dist, 'apt')))
    candidates.push({ path: `repos/dist/apt/${platform}/dists/${stage}`, kind: 'apt' });
  const out: LiveRepo[] = [];
  for (const c of candidates) {
    const dir = await realpath(join(storageDir, c.path)).catch((e) => {
      if (errCode(e) === 'ENOENT') return null; // never published, or a dangling link: nothing to read
      throw e;
    });
    if (!dir) continue;
    const kind = c.kind ?? ((await stat(join(dir, 'repodata')).catch(() => null)) ? 'yum' : 'apt');
    const shape = shapeOf(c.path, kind)!;
    out.push({
      ...shape,
      version: relative(storageDir, dir),
      names: () => filesBelow(dir),
      read: (name) => readFile(join(dir, name)),
      source: (name) => ({ file: join(dir, name) }),
      packageFile: async (href, deep) => {
        const file = join(storageDir, shape.archive, href);
        const st = await stat(file).catch(() => null);
        if (!st) return null;
        return deep ? { size: st.size, sha256: (await sha256File(file)).sha256 } : { size: st.size };
      },
    });
  }
  return out;
}

/** A repository path's scope, archive and client file (for the mirror's own URL). */
function shapeOf(path: string, kind: RepoKind): Pick<LiveRepo, 'path' | 'scope' | 'archive' | 'clientFile'> | null {
  const parsed = parseLivePath(path);
  if (!parsed) return null;
  const s = parsed.scope;
  if ('product' in s) {
    const repo = { stage: s.stage, product: s.product, kind };
    return { path, ...parsed, clientFile: { name: clientFileName(repo), text: (u) => clientFileText(u, repo) } };
  }
  const d: DistRef = { stage: s.stage, kind: s.kind, platform: s.platform, arch: s.arch ?? 'all' };
  return { path, ...parsed, clientFile: { name: distClientFileName(d), text: (u) => distClientFileText(u, d) } };
}

async function dirNames(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }).catch((e) => (errCode(e) === 'ENOENT' ? [] : Promise.reject(e))))
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}
