import { storedFiles } from '../../services/db/packages.ts';
import { releaseById } from '../../services/db/releases.ts';
import { RdError } from '../../services/errors.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import type { RepoKind } from '../../services/storage/repo-ref.ts';
import type { Step } from '../engine/step.ts';

export interface LoadedRelease {
  product: string;
  productName: string;
  version: string;
  kind: RepoKind;
  revision: number | null;
  deprecatedAt: string | null;
  packages: Array<{ filename: string; sha256: string; size: number }>;
}

/**
 * A promotion works on what was verified at Unverified: the recorded digests, nothing downloaded again.
 * Each blob must still be in the store with its recorded size (its name is its digest; reading it all
 * again would make promotion cost grow with the release's size).
 */
export const loadRelease: Step<LoadedRelease> = {
  id: 'load-release',
  async run(ctx) {
    const { db, config } = ctx.deps;
    const [r, packages] = await ctx.timings.time(
      'db',
      async () => [await releaseById(db, ctx.releaseId), await storedFiles(db, ctx.releaseId)] as const,
    );
    if (!r.product_short_name || packages.length === 0)
      throw new RdError('RD_CONTENT_MISSING', `release of ticket ${ctx.ticketId} has no recorded packages`);
    const blobs = new BlobStore(config.STORAGE_DIR);
    for (const p of packages) {
      // here or in the object store (BLOB_STORE): a later step that reads it gets it from there
      const size = await blobs.storedSize(p.sha256);
      if (size !== Number(p.size)) {
        throw new RdError(
          'RD_CONTENT_MISSING',
          `${p.filename}: stored blob sha256 ${p.sha256} is ${size !== null ? `${size} bytes, recorded ${p.size}` : 'missing'}`,
          { file: p.filename },
        );
      }
    }
    // record-release writes the identity columns together with the packages: present when the product is
    return {
      product: r.product_short_name,
      productName: r.product_name!,
      version: r.version!,
      kind: r.repo_kind!,
      revision: r.revision,
      deprecatedAt: r.deprecated_at ? new Date(r.deprecated_at).toISOString() : null,
      packages,
    };
  },
};
