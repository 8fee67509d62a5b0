import { link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RdError, isRdError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import { errCode } from './blobs.ts';
import { aptPackages, aptRelease, yumRepodata, type AptPackagesIndex, type ExtraMetadata } from './dist-index.ts';
import { addToPool, ensureSymlink, poolDir } from './dist-pool.ts';
import { aptArch, APT_COMPONENT, distPaths, distRoot, type DistRef } from './dist-ref.ts';
import { distClientFileName, distClientFileText, distClientFileUrl, distLabel, distUrl } from './dist-url.ts';
import type { IndexEntry } from './index-entries.ts';
import { publishVersion, writeIndexFiles } from './publish-version.ts';

export interface DistPublishOptions {
  storageDir: string;
  publicUrl: string;
  /** Signs in the build dir, before the swap: no distribution index is ever live unsigned. */
  signer: Pick<Signer, 'signRepository'>;
  /** YUM: more repodata (updateinfo for Production). */
  extras?: ExtraMetadata[];
  /**
   * The entries that may not be in the pool yet (the release entering); default all. Linking only these
   * keeps a publication's cost with the change, not with the size of the distribution.
   */
  fresh?: IndexEntry[];
}

export interface DistPublishResult {
  url: string;
  /** the URL, and for APT the suite and component: what a comment shows */
  label: string;
  clientFile: { name: string; url: string };
  version: number;
  /** the version's directory: its files never change, though a later publication may prune it */
  dir: string;
  packages: number;
  durationMs: number;
}

/**
 * Publishes `entries` as the distribution's new version, all or nothing, like a product repository
 * (publish.ts): packages into the pool first, then the index built aside from the recorded entries,
 * signed, made durable, and swapped in by one rename. A client sees the old signed index or the new one;
 * every file an index names exists before it goes live. For APT, `entries` are the arch's: the suite's
 * other arches are taken over from the live version unchanged (hard links).
 */
export async function publishDistribution(d: DistRef, entries: IndexEntry[], opts: DistPublishOptions): Promise<DistPublishResult> {
  const t0 = performance.now();
  try {
    await addToPool(opts.storageDir, opts.fresh ?? entries);
    const published = await publishVersion(distPaths(opts.storageDir, d), async (dir, previous) => {
      if (d.kind === 'yum') {
        const parts = entries.map((e) => e.parts);
        // repomd revision: informative, publishVersion decides the dir
        await writeIndexFiles(dir, await yumRepodata(parts, opts.extras ?? [], (previous?.version ?? 0) + 1));
        await ensureSymlink(join(dir, 'pool'), poolDir(opts.storageDir));
      } else {
        await ensureSymlink(join(distRoot(opts.storageDir), 'apt', d.platform, 'pool'), poolDir(opts.storageDir));
        await buildAptSuite(d, dir, entries, previous?.dir);
      }
      await opts.signer.signRepository(dir, d.kind);
      await writeFile(join(dir, distClientFileName(d)), distClientFileText(opts.publicUrl, d));
    });
    return {
      url: distUrl(opts.publicUrl, d),
      label: distLabel(opts.publicUrl, d),
      clientFile: { name: distClientFileName(d), url: distClientFileUrl(opts.publicUrl, d) },
      version: published.version,
      dir: published.dir,
      packages: entries.length,
      durationMs: Math.round(performance.now() - t0),
    };
  } catch (e) {
    const where = d.kind === 'yum' ? `${d.stage}/${d.platform}/${d.arch}` : `${d.stage}/${d.platform}`;
    if (isRdError(e)) throw e;
    throw new RdError(
      'RD_PUBLISH_FAILED',
      `distribution ${where}: ${(e instanceof Error ? e.message : String(e)).split(opts.storageDir).join('$STORAGE_DIR')}`,
    );
  }
}

/** main/binary-<arch>/Packages.gz of this arch, the other arches' as they were, and the Release over all. */
async function buildAptSuite(d: DistRef, dir: string, entries: IndexEntry[], previousDir: string | undefined): Promise<void> {
  const arch = aptArch(d.arch);
  const indexes: AptPackagesIndex[] = [];
  if (entries.length > 0) {
    const ix = await aptPackages(
      arch,
      entries.map((e) => e.parts[0]!),
    );
    await writeIndexFiles(dir, [{ path: `${APT_COMPONENT}/binary-${arch}/Packages.gz`, bytes: ix.gz }]);
    indexes.push(ix);
  }
  if (previousDir) indexes.push(...(await keepOtherArches(previousDir, dir, arch)));
  await writeFile(join(dir, 'Release'), aptRelease(d, indexes));
}

/** The other arches of the live suite, linked into the new one, with their hashes from the live Release. */
async function keepOtherArches(previousDir: string, dir: string, arch: string): Promise<AptPackagesIndex[]> {
  const release = await readFile(join(previousDir, 'Release'), 'utf8');
  const listed = new Map<string, { sha256: string; size: number }>();
  for (const m of release.matchAll(/^ ([0-9a-f]{64}) +(\d+) (\S+)$/gm)) listed.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  const names = await readdir(join(previousDir, APT_COMPONENT)).catch((e) => (errCode(e) === 'ENOENT' ? [] : Promise.reject(e)));
  const kept: AptPackagesIndex[] = [];
  for (const name of names) {
    const other = /^binary-(.+)$/.exec(name)?.[1];
    if (!other || other === arch) continue;
    const base = `${APT_COMPONENT}/${name}/Packages`;
    const plain = listed.get(base);
    if (!plain) throw new Error(`the live Release does not list ${base}`);
    await mkdir(join(dir, APT_COMPONENT, name), { recursive: true });
    await link(join(previousDir, `${base}.gz`), join(dir, `${base}.gz`));
    kept.push({ arch: other, gz: await readFile(join(dir, `${base}.gz`)), plain });
  }
  return kept;
}
