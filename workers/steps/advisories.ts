import type { Config } from '../../config/index.ts';
import { distributionReleases } from '../../services/db/distributions.ts';
import type { Db } from '../../services/db/knex.ts';
import type { ReleaseMetadata } from '../../services/metadata/release-xml.ts';
import type { ExtraMetadata } from '../../services/storage/dist-index.ts';
import type { DistRef } from '../../services/storage/dist-ref.ts';
import type { PackageHeader } from '../../services/storage/package-header.ts';
import { buildUpdateinfo, type Advisory } from '../../services/storage/updateinfo.ts';
import type { ViewChange } from './views.ts';

/**
 * What a distribution carries besides its packages: Production YUM distributions get updateinfo.xml, one
 * advisory per release there (services/storage/updateinfo.ts). Other stages carry none: an advisory is
 * what a site acts on, and only Production is for sites at large.
 */
export async function extraMetadata(
  db: Db,
  config: Pick<Config, 'ADVISORY_PREFIX' | 'RT_URL'>,
  d: DistRef,
  change: ViewChange,
): Promise<ExtraMetadata[]> {
  if (d.kind !== 'yum' || d.stage !== 'production') return [];
  const releases = await distributionReleases<ReleaseMetadata, PackageHeader>(db, d, change);
  const advisories: Advisory[] = releases.map((r) => ({
    ticketId: r.ticketId,
    ticketUrl: `${config.RT_URL}/Ticket/Display.html?id=${r.ticketId}`,
    productName: r.metadata.productName,
    productShortName: r.metadata.productShortName,
    version: r.metadata.version,
    releaseNotes: r.metadata.releaseNotes,
    changeLog: r.metadata.changeLog,
    description: r.metadata.description,
    emergency: r.metadata.emergency,
    isoDate: r.metadata.isoDate,
    revision: r.revision,
    packages: r.packages.map((p) => ({
      name: p.header.name,
      epoch: p.header.epoch ?? 0,
      version: p.header.version,
      release: p.header.release,
      arch: p.header.arch,
      filename: p.filename,
      sha256: p.sha256,
    })),
  }));
  return [{ type: 'updateinfo', xml: buildUpdateinfo(config.ADVISORY_PREFIX, advisories) }];
}
