/** Releases past their retention (services/retention): what they hold, and their purge into a tombstone. */
import type { RepoStatus } from '../workflow/transitions.ts';
import type { Exec, Db } from './knex.ts';

export type PurgedStatus = Extract<RepoStatus, 'Deprecated' | 'Rejected' | 'Failed'>;

export interface PurgeCandidate {
  releaseId: number;
  ticketId: number;
  status: PurgedStatus;
  product: string | null;
  version: string | null;
  /** since when it is in that status */
  since: Date;
  packages: Array<{ filename: string; sha256: string; size: number }>;
}

/**
 * Releases in one of `cutoffs`' statuses since before its cutoff that still hold packages and show in no
 * repository. A Deprecated release counts from its deprecation; a Rejected or Failed one from its last change.
 */
export async function purgeCandidates(db: Db, cutoffs: Record<PurgedStatus, Date>): Promise<PurgeCandidate[]> {
  const rows = await db('releases as r')
    .where((w) => {
      w.where((d) => d.where('r.status', 'Deprecated').where('r.deprecated_at', '<', cutoffs.Deprecated))
        .orWhere((d) => d.where('r.status', 'Rejected').where('r.updated_at', '<', cutoffs.Rejected))
        .orWhere((d) => d.where('r.status', 'Failed').where('r.updated_at', '<', cutoffs.Failed));
    })
    .whereExists(db('packages as p').whereRaw('p.release_id = r.id'))
    .whereNotExists(db('stage_members as m').whereRaw('m.release_id = r.id'))
    .select('r.id', 'r.ticket_id', 'r.status', 'r.product_short_name', 'r.version', 'r.deprecated_at', 'r.updated_at')
    .orderBy('r.ticket_id');
  if (!rows.length) return [];
  const pkgs = await db('packages')
    .whereIn(
      'release_id',
      rows.map((r) => r.id),
    )
    .select('release_id', 'filename', 'sha256', 'size')
    .orderBy('filename');
  return rows.map((r) => ({
    releaseId: Number(r.id),
    ticketId: r.ticket_id,
    status: r.status,
    product: r.product_short_name,
    version: r.version,
    since: r.status === 'Deprecated' ? r.deprecated_at : r.updated_at,
    packages: pkgs
      .filter((p) => Number(p.release_id) === Number(r.id))
      .map((p) => ({ filename: p.filename, sha256: p.sha256, size: Number(p.size) })),
  }));
}

/** Of `shas`, those a release other than `releaseIds` records, or an action in flight claimed. */
export async function usedElsewhere(db: Db, shas: string[], releaseIds: number[]): Promise<Set<string>> {
  if (!shas.length) return new Set();
  const [byPackages, byClaims] = await Promise.all([
    db('packages').whereIn('sha256', shas).whereNotIn('release_id', releaseIds).distinct('sha256'),
    db('blob_claims').whereIn('sha256', shas).distinct('sha256'),
  ]);
  return new Set([...byPackages, ...byClaims].map((r) => r.sha256 as string));
}

/**
 * The purge of one release's record, if it is still what was planned (same status, still holding packages):
 * its package rows go, and what they were is kept in its tombstone with the purge's time and reason.
 */
export async function purgeRecord(
  trx: Exec,
  c: PurgeCandidate,
  purge: { at: string; reason: string; bytesFreed: number; kept: number },
): Promise<boolean> {
  const row = await trx('releases').where({ id: c.releaseId, status: c.status }).forUpdate().first('tombstone');
  if (!row) return false;
  const n = await trx('packages').where({ release_id: c.releaseId }).del();
  if (n === 0) return false;
  const tombstone = { ...((row.tombstone as object | null) ?? {}), purged: { ...purge, packages: c.packages } };
  await trx('releases')
    .where({ id: c.releaseId })
    .update({ tombstone: JSON.stringify(tombstone) });
  return true;
}
