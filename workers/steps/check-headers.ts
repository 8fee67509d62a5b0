import { BlobStore } from '../../services/storage/blobs.ts';
import { checkPackageAgainstSpec, readPackageHeader, type PackageHeader } from '../../services/storage/package-header.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { outputOf, type Step } from '../engine/step.ts';

export interface HeadersOutput {
  headers: Record<string, PackageHeader>;
}

// rpm/dpkg-deb start-up dominates a header read; a few at once use both cores
const PARALLEL = 4;

/** Name, version, release and arch come from the package itself and must agree with release.xml. */
export const checkHeaders: Step<HeadersOutput> = {
  id: 'check-headers',
  async run(ctx) {
    const { metadata } = outputOf(ctx, fetchMetadata);
    const { packages } = outputOf(ctx, fetchPackages);
    const blobs = new BlobStore(ctx.deps.config.STORAGE_DIR);
    const headers: Record<string, PackageHeader> = {};
    const queue = [...metadata.packages];
    const work = async () => {
      for (let spec = queue.shift(); spec; spec = queue.shift()) {
        const stored = packages.find((p) => p.filename === spec.filename)!;
        const header = await ctx.timings.time('header', () => readPackageHeader(blobs.path(stored.sha256), spec.format, spec.filename));
        checkPackageAgainstSpec(header, spec);
        headers[spec.filename] = header;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, work));
    await ctx.progress({ step: 'check-headers', packages: metadata.packages.length });
    return { headers };
  },
};
