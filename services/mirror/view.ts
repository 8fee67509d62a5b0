import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RdError } from '../errors.ts';
import { publicKeysDir } from '../signing/signer.ts';
import { BlobStore, errCode } from '../storage/blobs.ts';
import type { Stage } from '../storage/repo-ref.ts';
import type { MirrorFile } from './files.ts';
import { liveRepositories } from './live.ts';
import type { Db } from '../db/knex.ts';
import { packagesNamedBy, signedRank } from '../storage/index-files.ts';

/**
 * What a mirror of one stage holds, read from the live repositories as a site would see them: every file of
 * each live version (indexes, signatures), every package its indexes name (at the path the index names, its
 * bytes from the blob store), and the public keys. Paths are those below PUBLIC_URL, so a mirror's URLs are
 * the desk's with another host. A version is read through its resolved directory, once: a publication that
 * swaps the live link meanwhile does not mix two versions into one view.
 */
export interface MirrorView {
  files: MirrorFile[];
  /** each live repository and the version directory it was read from */
  repositories: Array<{ path: string; version: string }>;
  /** changes exactly when a live link or a key changes: a sync with the same fingerprint has nothing to do */
  fingerprint: string;
}

export interface ViewOptions {
  db: Db;
  storageDir: string;
  stage: Stage;
  /**
   * The mirror's own public URL: client files are written for it (they are not signed). Without one the
   * client files are left out, since the desk's would send sites back to the desk.
   */
  publicUrl?: string;
}

export async function mirrorView(opts: ViewOptions): Promise<MirrorView> {
  const live = await liveRepositories(opts.db, opts.storageDir, opts.stage);
  const blobs = new BlobStore(opts.storageDir);
  const files = new Map<string, MirrorFile>();
  const add = (f: MirrorFile) => {
    const seen = files.get(f.path);
    if (seen && seen.sha256 !== f.sha256)
      throw new RdError('RD_INTERNAL', `two live repositories name ${f.path} with different contents (${seen.sha256}, ${f.sha256})`);
    files.set(f.path, f);
  };
  for (const repo of live) {
    for (const name of await repo.names()) {
      if (repo.clientFile && name === repo.clientFile.name) continue;
      const bytes = await repo.read(name);
      add({
        path: `${repo.path}/${name}`,
        phase: phaseOf(name),
        sha256: sha256(bytes),
        size: bytes.length,
        source: repo.source(name, bytes),
      });
      for (const p of await packagesNamedBy(name, bytes)) {
        add({
          path: `${repo.archive}/${p.href}`,
          phase: 'package',
          sha256: p.sha256,
          size: p.size,
          source: { file: blobs.path(p.sha256), blob: p.sha256 },
        });
      }
    }
    if (repo.clientFile && opts.publicUrl) {
      const bytes = Buffer.from(repo.clientFile.text(opts.publicUrl));
      add({ path: `${repo.path}/${repo.clientFile.name}`, phase: 'index', sha256: sha256(bytes), size: bytes.length, source: { bytes } });
    }
  }
  const keysDir = publicKeysDir(opts.storageDir);
  for (const name of (await readdir(keysDir).catch(none)).filter((n) => n.endsWith('.asc')).sort()) {
    const bytes = await readFile(join(keysDir, name));
    add({ path: `keys/${name}`, phase: 'index', sha256: sha256(bytes), size: bytes.length, source: { file: join(keysDir, name) } });
  }
  const repositories = live.map((r) => ({ path: r.path, version: r.version }));
  const keys = [...files.values()].filter((f) => f.path.startsWith('keys/')).map((f) => `${f.path}=${f.sha256}`);
  return { files: [...files.values()].sort(byPhaseThenPath), repositories, fingerprint: fingerprintOf(repositories, keys, opts) };
}

/** The view's fingerprint without reading any index: what the mirror loop compares every few seconds. */
export async function viewFingerprint(opts: ViewOptions): Promise<string> {
  const repositories = (await liveRepositories(opts.db, opts.storageDir, opts.stage)).map((r) => ({ path: r.path, version: r.version }));
  const keysDir = publicKeysDir(opts.storageDir);
  const keys: string[] = [];
  for (const name of (await readdir(keysDir).catch(none)).filter((n) => n.endsWith('.asc')).sort())
    keys.push(`keys/${name}=${sha256(await readFile(join(keysDir, name)))}`);
  return fingerprintOf(repositories, keys, opts);
}

/** Versions are immutable and named once (a directory, or the store's stamp): each names the whole content of its indexes. */
function fingerprintOf(repositories: MirrorView['repositories'], keys: string[], opts: ViewOptions): string {
  return sha256(Buffer.from(JSON.stringify([repositories, keys, opts.publicUrl ?? null])));
}

/** The files a reader must find before it trusts a new index go last, in the order signedRank gives. */
function phaseOf(name: string): MirrorFile['phase'] {
  return signedRank(name) === undefined ? 'index' : 'signed';
}

const PHASES: MirrorFile['phase'][] = ['package', 'index', 'signed'];

function byPhaseThenPath(a: MirrorFile, b: MirrorFile): number {
  return (
    PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) ||
    (signedRank(a.path) ?? 0) - (signedRank(b.path) ?? 0) ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  );
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const none = (e: unknown): string[] => {
  if (errCode(e) === 'ENOENT') return [];
  throw e;
};
