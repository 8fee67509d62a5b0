import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RdError, isRdError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import { aptPackages, aptRelease, yumRepodata, type AptPackagesIndex, type ExtraMetadata } from './dist-index.ts';
import { addToPool, ensureSymlink, poolDir } from './dist-pool.ts';
import { aptArch, APT_COMPONENT, distPaths, distRoot, type DistRef } from './dist-ref.ts';
import { distClientFileName, distClientFileText, distClientFileUrl, distLabel, distUrl } from './dist-url.ts';
import type { IndexEntry } from './index-entries.ts';
import { type Prepared, prepareVersion, writeIndexFiles } from './publish-version.ts';

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
  /**
   * APT: the suite's other arches, as the records say (their entries). They are built again rather than taken
   * from the live version on this machine's disk: another worker may have published the suite since.
   */
  otherArches?: Array<{ arch: string; entries: IndexEntry[] }>;
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
 * every file an index names exists before it goes live. For APT, `entries` are the arch's and
 * `otherArches` the rest of the suite.
 */
export async function publishDistribution(d: DistRef, entries: IndexEntry[], opts: DistPublishOptions): Promise<DistPublishResult> {
  return (await prepareDistribution(d, entries, opts)).commit();
}

/** publishDistribution up to the swap (publish.ts prepareRepository says why). */
export async function prepareDistribution(
  d: DistRef,
  entries: IndexEntry[],
  opts: DistPublishOptions,
): Promise<Prepared<DistPublishResult>> {
  const t0 = performance.now();
  try {
    await addToPool(opts.storageDir, opts.fresh ?? entries);
    const prepared = await prepareVersion(distPaths(opts.storageDir, d), async (dir, previous) => {
      if (d.kind === 'yum') {
        const parts = entries.map((e) => e.parts);
        // repomd revision: informative, publishVersion decides the dir
        await writeIndexFiles(dir, await yumRepodata(parts, opts.extras ?? [], (previous?.version ?? 0) + 1));
        await ensureSymlink(join(dir, 'pool'), poolDir(opts.storageDir));
      } else {
        await ensureSymlink(join(distRoot(opts.storageDir), 'apt', d.platform, 'pool'), poolDir(opts.storageDir));
        await buildAptSuite(d, dir, [{ arch: d.arch, entries }, ...(opts.otherArches ?? [])]);
      }
      await opts.signer.signRepository(dir, d.kind);
      await writeFile(join(dir, distClientFileName(d)), distClientFileText(opts.publicUrl, d));
    });
    return {
      discard: prepared.discard,
      commit: async () => {
        const published = await prepared.commit().catch((e: unknown) => Promise.reject(asDistError(e, d, opts.storageDir)));
        return {
          url: distUrl(opts.publicUrl, d),
          label: distLabel(opts.publicUrl, d),
          clientFile: { name: distClientFileName(d), url: distClientFileUrl(opts.publicUrl, d) },
          version: published.version,
          dir: published.dir,
          packages: entries.length,
          durationMs: Math.round(performance.now() - t0),
        };
      },
    };
  } catch (e) {
    throw asDistError(e, d, opts.storageDir);
  }
}

function asDistError(e: unknown, d: DistRef, storageDir: string): unknown {
  if (isRdError(e)) return e;
  const where = d.kind === 'yum' ? `${d.stage}/${d.platform}/${d.arch}` : `${d.stage}/${d.platform}`;
  return new RdError(
    'RD_PUBLISH_FAILED',
    `distribution ${where}: ${(e instanceof Error ? e.message : String(e)).split(storageDir).join('$STORAGE_DIR')}`,
  );
}

/** main/binary-<arch>/Packages.gz of each arch with packages, and the Release over them all. */
async function buildAptSuite(d: DistRef, dir: string, arches: Array<{ arch: string; entries: IndexEntry[] }>): Promise<void> {
  const indexes: AptPackagesIndex[] = [];
  for (const { arch, entries } of arches) {
    if (entries.length === 0) continue;
    const ix = await aptPackages(
      aptArch(arch),
      entries.map((e) => e.parts[0]!),
    );
    await writeIndexFiles(dir, [{ path: `${APT_COMPONENT}/binary-${ix.arch}/Packages.gz`, bytes: ix.gz }]);
    indexes.push(ix);
  }
  await writeFile(join(dir, 'Release'), aptRelease(d, indexes));
}
