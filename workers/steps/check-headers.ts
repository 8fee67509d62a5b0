import { BlobStore } from '../../services/storage/blobs.ts';
import { checkPackageAgainstSpec, type PackageHeader } from '../../services/storage/package-header.ts';
import { type HeaderFile, readPackageHeaders } from '../../services/storage/package-headers.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { poolEarly, recordEntriesEarly } from './early-entries.ts';
import { outputOf, type Step } from '../engine/step.ts';

export interface HeadersOutput {
  headers: Record<string, PackageHeader>;
}

/** Name, version, release and arch come from the package itself and must agree with release.xml. */
export const checkHeaders: Step<HeadersOutput> = {
  id: 'check-headers',
  async run(ctx) {
    const { metadata } = outputOf(ctx, fetchMetadata);
    const { packages } = outputOf(ctx, fetchPackages);
    const blobs = new BlobStore(ctx.deps.config.STORAGE_DIR);
    const byName = new Map(packages.map((p) => [p.filename, p]));
    const files: HeaderFile[] = [];
    for (const spec of metadata.packages) {
      // on a machine that did not fetch them, the blobs come from the object store (BLOB_STORE) first
      const path = await blobs.local(byName.get(spec.filename)!.sha256);
      files.push({ path, format: spec.format, displayName: spec.filename });
    }
    const fetched = metadata.packages.map((spec) => ({ ...byName.get(spec.filename)!, format: spec.format }));
    const [read] = await Promise.all([
      ctx.timings.time('header', () => readPackageHeaders(files)),
      recordEntriesEarly(ctx, fetched),
      poolEarly(ctx, fetched),
    ]);
    const headers: Record<string, PackageHeader> = {};
    // the first package, in release.xml's order, that cannot be read or disagrees with it fails the step
    metadata.packages.forEach((spec, i) => {
      const r = read[i]!;
      if (r.status === 'rejected') throw r.reason;
      checkPackageAgainstSpec(r.value, spec);
      headers[spec.filename] = r.value;
    });
    await ctx.progress({ step: 'check-headers', packages: metadata.packages.length });
    return { headers };
  },
};
