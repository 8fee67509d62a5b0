import { checkHeaders } from './check-headers.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { outputOf, type Step } from '../engine/step.ts';

/** The release's content, in one transaction: blobs, packages and the identity columns. */
export const recordRelease: Step<{ packages: number }> = {
  id: 'record-release',
  async run(ctx) {
    const { metadata: m, xmlSha256 } = outputOf(ctx, fetchMetadata);
    const { packages } = outputOf(ctx, fetchPackages);
    const { headers } = outputOf(ctx, checkHeaders);
    await ctx.deps.db.transaction(async (trx) => {
      await trx('blobs').insert(packages.map((p) => ({ sha256: p.sha256, size: p.size }))).onConflict('sha256').ignore();
      await trx('packages').where({ release_id: ctx.releaseId }).del();
      await trx('packages').insert(m.packages.map((spec) => {
        const p = packages.find((x) => x.filename === spec.filename)!;
        return {
          release_id: ctx.releaseId, filename: spec.filename, pkgname: spec.pkgname, version: spec.version, rel: spec.release,
          arch: spec.arch, format: spec.format, url: p.url, sha256: p.sha256, size: p.size, header: JSON.stringify(headers[spec.filename]),
        };
      }));
      await trx('releases').where({ id: ctx.releaseId }).update({
        product_short_name: m.productShortName, product_name: m.productName, version: m.version, platform: m.targetPlatform,
        arch: m.targetArch, repo_kind: m.repoKind, metadata: JSON.stringify(m), xml_sha256: xmlSha256, updated_at: trx.fn.now(),
      });
    });
    return { packages: packages.length };
  },
  // The release was in no repository before this action (New, Failed or Rejected): nothing to restore.
  async undo(ctx) {
    await ctx.deps.db('packages').where({ release_id: ctx.releaseId }).del();
  },
};
