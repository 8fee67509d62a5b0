/** What a distribution (a stage's releases of one kind, platform and arch, every product) is made of. */
import type { RepoKind } from '../storage/repo-ref.ts';
import type { Db } from './knex.ts';

/** Which distribution: the releases shown in `stage` with this kind, platform and arch, of any product. */
export interface DistributionKey {
  stage: string;
  kind: RepoKind;
  platform: string;
  arch: string;
}

/** The ids of the releases a distribution shows after the change. */
function membersAfter(db: Db, d: DistributionKey, change: { include?: number; exclude?: number }) {
  return db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .where({ 'm.stage': d.stage, 'r.repo_kind': d.kind, 'r.platform': d.platform, 'r.arch': d.arch })
    .modify((q) => {
      if (change.exclude !== undefined) q.whereNot('r.id', change.exclude);
    })
    .pluck('r.id')
    .then((ids: number[]) => (change.include !== undefined && !ids.includes(change.include) ? [...ids, change.include] : ids));
}

export interface DistributionRelease<M, H> {
  ticketId: number;
  revision: number | null;
  metadata: M;
  packages: Array<{ filename: string; sha256: string; header: H }>;
}

/** The releases a distribution shows after the change, with their metadata and packages (advisories). */
export async function distributionReleases<M, H>(
  db: Db,
  d: DistributionKey,
  change: { include?: number; exclude?: number },
): Promise<Array<DistributionRelease<M, H>>> {
  const ids = await membersAfter(db, d, change);
  if (ids.length === 0) return [];
  const [releases, packages] = await Promise.all([
    db('releases').whereIn('id', ids).orderBy('ticket_id').select('id', 'ticket_id', 'revision', 'metadata'),
    db('packages').whereIn('release_id', ids).orderBy('filename').select('release_id', 'filename', 'sha256', 'header'),
  ]);
  return releases.map((r) => ({
    ticketId: r.ticket_id,
    revision: r.revision,
    metadata: r.metadata as M,
    packages: packages.filter((p) => p.release_id === r.id).map((p) => ({ filename: p.filename, sha256: p.sha256, header: p.header as H })),
  }));
}

/** A package of the release that another release of the distribution ships with the same identity and other bytes. */
export interface Conflict {
  filename: string;
  pkgname: string;
  version: string;
  rel: string;
  arch: string;
  sha256: string;
  otherTicket: number;
  otherFilename: string;
  otherSha256: string;
}

/**
 * The release's packages whose name, epoch, version, release and arch another release shown in the
 * distribution (stage, kind, platform, arch) ships with different bytes, as a Debian archive refuses a
 * re-upload of a version with other content. The same bytes are no conflict.
 */
export const conflictsIn = (db: Db, releaseId: number, d: DistributionKey): Promise<Conflict[]> =>
  db('packages as p')
    .join('packages as o', (j) =>
      j
        .on('o.pkgname', 'p.pkgname')
        .andOn('o.version', 'p.version')
        .andOn('o.rel', 'p.rel')
        .andOn('o.arch', 'p.arch')
        .andOn('o.sha256', '<>', 'p.sha256')
        .andOn(db.raw("coalesce(o.header->>'epoch', '0') = coalesce(p.header->>'epoch', '0')")),
    )
    .join('stage_members as m', 'm.release_id', 'o.release_id')
    .join('releases as r', 'r.id', 'o.release_id')
    .where({ 'p.release_id': releaseId, 'm.stage': d.stage, 'r.repo_kind': d.kind, 'r.platform': d.platform, 'r.arch': d.arch })
    .whereNot('o.release_id', releaseId)
    .orderBy(['p.filename', 'r.ticket_id'])
    .select(
      'p.filename',
      'p.pkgname',
      'p.version',
      'p.rel',
      'p.arch',
      'p.sha256',
      'r.ticket_id as otherTicket',
      'o.filename as otherFilename',
      'o.sha256 as otherSha256',
    );
