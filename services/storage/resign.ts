import { link, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../signing/signer.ts';
import { distPaths, distRoot, distUnit, type DistRef } from './dist-ref.ts';
import { publishVersion } from './publish-version.ts';
import { liveVersion, repoPaths, type RepoPaths } from './repo-layout.ts';
import { STAGES, type RepoKind, type Stage } from './repo-ref.ts';

/**
 * Every live repository, product and distribution, with what re-signing it needs: after a change of signing
 * keys, each is signed again, so a rotation does not wait for every repository to be published again.
 */
export interface LiveRepository {
  /** what logs and locks call it */
  name: string;
  /** the lock its publications hold (services/db/locks.ts lockKeys) */
  lock: { kind: 'repo'; stage: Stage; product: string } | { kind: 'dist'; unit: string };
  paths: RepoPaths;
  kind: RepoKind;
}

export async function liveRepositories(storageDir: string): Promise<LiveRepository[]> {
  const out: LiveRepository[] = [];
  for (const stage of STAGES) {
    for (const product of await names(join(storageDir, 'repos', stage))) {
      const paths = repoPaths(storageDir, { stage, product, kind: 'yum' });
      const live = await liveVersion(paths);
      if (!live) continue;
      const kind: RepoKind = (await readdir(live.dir)).includes('repodata') ? 'yum' : 'apt';
      out.push({ name: `${stage}/${product}`, lock: { kind: 'repo', stage, product }, paths, kind });
    }
  }
  const root = distRoot(storageDir);
  const dists: DistRef[] = [];
  for (const platform of await names(join(root, 'yum')))
    for (const arch of await names(join(root, 'yum', platform)))
      for (const stage of STAGES) dists.push({ kind: 'yum', platform, arch, stage });
  for (const platform of await names(join(root, 'apt')))
    for (const stage of STAGES) dists.push({ kind: 'apt', platform, arch: 'all', stage });
  for (const d of dists) {
    const paths = distPaths(storageDir, d);
    if (!(await liveVersion(paths))) continue;
    out.push({ name: `dist/${distUnit(d)}`, lock: { kind: 'dist', unit: distUnit(d) }, paths, kind: d.kind });
  }
  return out;
}

/** The files a signing writes: what a re-signing leaves out and writes anew. */
export const SIGNATURES = new Set(['InRelease', 'Release.gpg', 'repomd.xml.asc']);

/**
 * Publishes the live version again with fresh signatures: a new version of hard links to the same files
 * (the old signatures left out, never written through a link), signed by the configured keys, swapped in.
 * Call it under the repository's lock. Returns the new version, or null when there is no live one.
 */
export async function resignRepository(repo: LiveRepository, signer: Pick<Signer, 'signRepository'>): Promise<number | null> {
  const live = await liveVersion(repo.paths);
  if (!live) return null;
  const published = await publishVersion(repo.paths, async (dir) => {
    await linkTree(live.dir, dir);
    await signer.signRepository(dir, repo.kind);
  });
  return published.version;
}

/** Hard links of `from`'s files into the existing dir `to`; symlinks recreated, signatures left out. */
async function linkTree(from: string, to: string): Promise<void> {
  for (const e of await readdir(from, { withFileTypes: true })) {
    if (SIGNATURES.has(e.name)) continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) {
      await mkdir(dst);
      await linkTree(src, dst);
    } else if (e.isSymbolicLink())
      await symlink(await readlink(src), dst); // same depth: the relative target holds
    else await link(src, dst);
  }
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => !e.name.startsWith('.')).map((e) => e.name);
}
