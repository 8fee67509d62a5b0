import { deletePackages, recordContent } from '../../services/db/packages.ts';
import { checkHeaders } from './check-headers.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { outputOf, type Step } from '../engine/step.ts';

/** The release's content, in one transaction: blobs, packages and the identity columns. */
export const recordRelease: Step<{ packages: number }> = {
  id: 'record-release',
  async run(ctx) {
    const { metadata: m, xmlSha256, xmlBase64 } = outputOf(ctx, fetchMetadata);
    const { packages, imported } = outputOf(ctx, fetchPackages);
    const { headers } = outputOf(ctx, checkHeaders);
    const records = m.packages.map((spec) => {
      const p = packages.find((x) => x.filename === spec.filename)!;
      return {
        filename: spec.filename,
        pkgname: spec.pkgname,
        version: spec.version,
        rel: spec.release,
        arch: spec.arch,
        format: spec.format,
        url: p.url,
        sha256: p.sha256,
        size: p.size,
        header: headers[spec.filename],
      };
    });
    await ctx.timings.time('db', () =>
      recordContent(
        ctx.deps.db,
        ctx.inboxId,
        ctx.releaseId,
        packages.map((p) => ({ sha256: p.sha256, size: p.size })),
        records,
        {
          product_short_name: m.productShortName,
          product_name: m.productName,
          version: m.version,
          platform: m.targetPlatform,
          arch: m.targetArch,
          repo_kind: m.repoKind,
          metadata: m,
          xml_sha256: xmlSha256,
          xml: xmlBase64 === undefined ? null : Buffer.from(xmlBase64, 'base64'),
        },
        imported && {
          source_desk: imported.desk,
          source_url: imported.url,
          source_ticket: imported.ticket,
          bundle_sha256: imported.bundleSha256,
          signed_by: imported.signedBy,
          manifest: imported.manifest,
        },
      ),
    );
    return { packages: packages.length };
  },
  // The release was in no repository before this action (New, Failed or Rejected): nothing to restore.
  async undo(ctx) {
    await deletePackages(ctx.deps.db, ctx.releaseId);
  },
};
