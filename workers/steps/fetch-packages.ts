import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { download, downloadBundle, type DownloadCache, type DownloadResult, type Progress } from '../../services/artifacts/download.ts';
import { findPackageFiles } from '../../services/artifacts/unpack.ts';
import { claimBlobs, releaseBlobs } from '../../services/db/blobs.ts';
import { RdError } from '../../services/errors.ts';
import { peerAuthorization } from '../../services/bundles/peers.ts';
import { isExportedBundle, verifyExportedBundle, type ImportedFrom } from '../../services/bundles/verify.ts';
import type { PackageSpec, ReleaseMetadata } from '../../services/metadata/release-xml.ts';
import { BlobStore, type Staged } from '../../services/storage/blobs.ts';
import { removeBlobsEverywhere } from '../../services/storage/dist-pool.ts';
import { pushBlobs } from '../../services/storage/objects/blob-copies.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { outputOf, type Step, type StepContext } from '../engine/step.ts';

export interface FetchedPackage {
  filename: string;
  sha256: string;
  size: number;
  url: string | null;
}
export interface PackagesOutput {
  packages: FetchedPackage[];
  extras: string[];
  adopted: string[];
  bytes: number;
  /** the desk and ticket a signed bundle came from (an import) */
  imported?: ImportedFrom & { bundleSha256: string };
}

/** Downloads every package (or the bundle), verifies digests, stores each blob once by sha256. */
export const fetchPackages: Step<PackagesOutput> = {
  id: 'fetch-packages',
  async run(ctx) {
    const { metadata } = outputOf(ctx, fetchMetadata);
    const blobs = new BlobStore(ctx.deps.config.STORAGE_DIR);
    await blobs.init();
    const got = metadata.synchURL
      ? await fromBundle(ctx, blobs, metadata.synchURL, metadata)
      : await oneByOne(ctx, blobs, metadata.packages);
    await claim(ctx, blobs, got.packages);
    return { ...got, bytes: got.packages.reduce((n, p) => n + p.size, 0) };
  },
  // Blobs are shared by digest: those this action used that no recorded package and no other action
  // in flight (its claim) uses are removed, here, from the pool (a publication of this action may have
  // linked them) and from the object store behind the blobs. A store that fails leaves them recorded for
  // retention's sweep of leftovers.
  async undo(ctx, out) {
    const shas = [...new Set(out.packages.map((p) => p.sha256))];
    await releaseBlobs(ctx.deps.db, ctx.inboxId, shas, (unused) => removeBlobsEverywhere(ctx.deps.config.STORAGE_DIR, unused));
  },
};

/**
 * Claims the blobs for this action, then checks they are all still there: another action's undo may have
 * removed one this action found in the store before the claim (a rerun downloads it again). A purge on
 * another machine may have deleted one from the object store only (adoptAll found it there before the
 * claim): it is put there again from here, and the claim keeps it from now on.
 */
async function claim(ctx: StepContext, blobs: BlobStore, packages: FetchedPackage[]): Promise<void> {
  await ctx.timings.time('db', () =>
    claimBlobs(
      ctx.deps.db,
      ctx.inboxId,
      packages.map((p) => ({ sha256: p.sha256, size: p.size })),
    ),
  );
  const gone = [];
  for (const p of packages) if (!(await blobs.has(p.sha256))) gone.push(p.filename);
  if (gone.length)
    throw new RdError('RD_BUSY', `${gone.join(', ')}: removed from the store by another action while this one fetched; fetching again`);
  const objects = blobs.objects;
  if (objects)
    await ctx.timings.time('fsync', () =>
      pushBlobs(
        objects,
        packages.map((p) => p.sha256),
        (sha) => blobs.path(sha),
      ),
    );
}

function downloadOpts(ctx: StepContext, blobs: BlobStore, expectedSha256?: string) {
  return {
    ...bundleOpts(ctx, ctx.workDir, expectedSha256),
    // a package is synced with the rest of the release by adoptAll
    durable: false,
    cache: storeCache(blobs),
  };
}

/**
 * A digest already stored is not downloaded again: here, or in the object store behind the blobs
 * (BLOB_STORE), from which it is got instead: another machine fetched it from the provider already.
 */
function storeCache(blobs: BlobStore): DownloadCache {
  return {
    has: async (sha256) => {
      if (await blobs.has(sha256)) return true;
      if (!blobs.objects || (await blobs.storedSize(sha256)) === null) return false;
      await blobs.local(sha256);
      return blobs.has(sha256);
    },
    path: (sha256) => blobs.path(sha256),
  };
}

function bundleOpts(ctx: StepContext, destDir: string, expectedSha256?: string) {
  const c = ctx.deps.config;
  let last = 0;
  return {
    // scratch of this action (same filesystem as the blobs): whatever is not adopted goes with it
    destDir,
    maxBytes: c.MAX_DOWNLOAD_BYTES,
    timeoutMs: c.DOWNLOAD_TIMEOUT_MS,
    allowedHosts: c.ALLOWED_DOWNLOAD_HOSTS,
    expectedSha256,
    logger: ctx.log,
    // another desk's bundle endpoint (an import) wants the secret the two desks share
    authorization: peerAuthorization(c.PEERS),
    onProgress: (p: Progress) => {
      // a retried attempt starts again from zero
      if (p.bytes < last) last = 0;
      ctx.deps.metrics.downloadedBytes.inc(p.bytes - last);
      last = p.bytes;
      void ctx.progress({ step: 'download', url: p.url, bytes: p.bytes, total: p.total });
    },
  };
}

async function oneByOne(ctx: StepContext, blobs: BlobStore, specs: PackageSpec[]) {
  const packages: FetchedPackage[] = [];
  const staged: Staged[] = [];
  const stored: string[] = [];
  const fetched = new Map<string, DownloadResult>();
  try {
    await fetchEach(ctx, blobs, specs, fetched, packages);
  } catch (e) {
    // a later package failed: those fetched so far leave the scratch now, not at the end of the action
    await Promise.all([...fetched.values()].filter((r) => !r.cached).map((r) => unlink(r.path).catch(() => undefined)));
    throw e;
  }
  for (const r of fetched.values()) {
    if (r.cached) stored.push(r.sha256);
    else staged.push({ file: r.path, sha256: r.sha256, size: r.size });
  }
  return { packages, extras: [], adopted: await store(ctx, blobs, staged, stored) };
}

async function fetchEach(
  ctx: StepContext,
  blobs: BlobStore,
  specs: PackageSpec[],
  fetched: Map<string, DownloadResult>,
  packages: FetchedPackage[],
) {
  for (const spec of specs) {
    // the same bytes twice in one release are fetched once, as when each was adopted on arrival
    const again = spec.sha256 ? fetched.get(spec.sha256.toLowerCase()) : undefined;
    const r = again ?? (await ctx.timings.time('download', () => download(spec.url!, downloadOpts(ctx, blobs, spec.sha256))));
    if (!again) {
      fetched.set(r.sha256, r);
      ctx.log.info({ file: spec.filename, sha256: r.sha256, size: r.size, cached: r.cached }, 'package fetched');
    }
    packages.push({ filename: spec.filename, sha256: r.sha256, size: r.size, url: spec.url! });
  }
}

async function fromBundle(ctx: StepContext, blobs: BlobStore, url: string, metadata: ReleaseMetadata) {
  const c = ctx.deps.config;
  const specs = metadata.packages;
  const dir = path.join(ctx.workDir, 'bundle');
  // unpacked as it arrives, each file hashed as it is written: no byte of the bundle is read twice. A file
  // release.xml names is made ready for the store (read-only, durable) before it is closed, while the rest
  // arrives; the adoption is then only links
  const wanted = new Set(specs.map((s) => s.filename));
  const sealed = new Set<string>();
  const bundle = await ctx.timings.time('download', () =>
    downloadBundle(
      url,
      bundleOpts(ctx, dir, metadata.synchSha256),
      { maxEntries: c.MAX_BUNDLE_ENTRIES, maxBytes: c.MAX_BUNDLE_BYTES },
      async (fh, sha256, rel) => {
        if (!wanted.has(path.basename(rel))) return false;
        await blobs.seal(fh, sha256);
        sealed.add(rel);
        return true;
      },
    ),
  );
  const byPath = new Map(bundle.files.map((f) => [f.path, f]));
  const imported = isExportedBundle(bundle.files)
    ? await verifyExportedBundle(dir, bundle.files, ctx.deps.signer.trusted, metadata, async (rel) => byPath.get(rel)!.sha256)
    : undefined;
  if (imported) ctx.log.info({ desk: imported.desk, ticket: imported.ticket, signedBy: imported.signedBy }, 'signed bundle verified');
  const { found, extras } = findPackageFiles(
    bundle.files,
    specs.map((s) => s.filename),
  );
  const packages: FetchedPackage[] = [];
  const staged: Staged[] = [];
  for (const spec of specs) {
    const { sha256: digest, size } = byPath.get(found[spec.filename]!)!;
    if (spec.sha256 && spec.sha256 !== digest) {
      throw new RdError('RD_DIGEST_MISMATCH', `${spec.filename}: sha256 ${digest}, expected ${spec.sha256}`, {
        file: spec.filename,
        expected: spec.sha256,
        actual: digest,
      });
    }
    staged.push({ file: path.join(dir, found[spec.filename]!), sha256: digest, size, sealed: sealed.has(found[spec.filename]!) });
    packages.push({ filename: spec.filename, sha256: digest, size, url: null });
  }
  return {
    packages,
    extras,
    adopted: await store(ctx, blobs, staged, []),
    ...(imported && { imported: { ...imported, bundleSha256: bundle.sha256 } }),
  };
}

/**
 * Into the store, durable, in one batch (BlobStore.adoptAll says why that is enough for the checkpoint that
 * follows): returns the digests this action added, in order.
 */
async function store(ctx: StepContext, blobs: BlobStore, staged: Staged[], stored: string[]): Promise<string[]> {
  const got = await ctx.timings.time('fsync', () => blobs.adoptAll(staged, stored));
  return staged.filter((_, i) => !got[i]!.existed).map((s) => s.sha256);
}
