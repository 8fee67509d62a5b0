/**
 * Which releases each stage's repository of a product shows (stage_members). A repository index is
 * rebuilt from these rows; the membership changes only once the new index is live.
 */
import type { DistributionKey } from './distributions.ts';
import { type EntryColumns, partsOf } from './index-entries.ts';
import type { Db } from './knex.ts';

/**
 * What a view shows: the releases of one product in a stage (its repository), or of every product with a
 * kind, platform and arch (the stage's distribution).
 */
export type ViewScope = { stage: string; product: string } | DistributionKey;

export interface ViewPackage {
  sha256: string;
  filename: string;
  releaseId: number;
  /** its recorded index entry (index_entries); null when not recorded yet */
  parts: Buffer[] | null;
}

/** The packages a view shows with one release more (include) or less (exclude), each file once. */
export function viewPackages(db: Db, scope: ViewScope, change: { include?: number; exclude?: number }): Promise<ViewPackage[]> {
  const shown = db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .where('m.stage', scope.stage)
    .modify((q) => {
      if ('product' in scope) q.where('r.product_short_name', scope.product);
      else q.where({ 'r.repo_kind': scope.kind, 'r.platform': scope.platform, 'r.arch': scope.arch });
    })
    .select('r.id');
  return db('packages as p')
    .leftJoin('index_entries as e', (j) => j.on('e.sha256', 'p.sha256').andOn('e.filename', 'p.filename'))
    .where((q) => {
      q.whereIn('p.release_id', shown);
      if (change.include !== undefined) q.orWhere('p.release_id', change.include);
    })
    .modify((q) => {
      if (change.exclude !== undefined) q.whereNot('p.release_id', change.exclude);
    })
    .distinctOn('p.filename', 'p.sha256')
    .orderBy([{ column: 'p.filename' }, { column: 'p.sha256' }])
    .select('p.sha256', 'p.filename', 'p.release_id as releaseId', 'e.part0', 'e.part1', 'e.part2')
    .then((rows: Array<EntryColumns & { sha256: string; filename: string; releaseId: number }>) =>
      rows.map((r) => ({ sha256: r.sha256, filename: r.filename, releaseId: r.releaseId, parts: partsOf(r) })),
    );
}

/** The arches (release.xml targetArch) of the releases `stage` shows for this kind and platform. */
export function archesShown(db: Db, d: Omit<DistributionKey, 'arch'>): Promise<string[]> {
  return db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .where({ 'm.stage': d.stage, 'r.repo_kind': d.kind, 'r.platform': d.platform })
    .distinct('r.arch')
    .orderBy('r.arch')
    .pluck('r.arch');
}

export async function addToStage(db: Db, releaseId: number, stage: string): Promise<void> {
  await db('stage_members').insert({ release_id: releaseId, stage }).onConflict(['release_id', 'stage']).ignore();
}

export async function removeFromStage(db: Db, releaseId: number, stage: string): Promise<void> {
  await db('stage_members').where({ release_id: releaseId, stage }).delete();
}

/** A distribution's identity apart from its stage: every product of this kind, platform and arch. */
export interface Platform {
  kind: string | null;
  platform: string | null;
  arch: string | null;
}

/**
 * The headers of the packages `stage` shows in the distribution of `of` (every product of its kind,
 * platform and arch), one release aside: what a site that enabled that distribution finds there.
 */
export const headersShownIn = <H>(db: Db, of: Platform, stage: string, exceptId: number): Promise<Array<{ header: H }>> =>
  db('packages as p')
    .join('releases as r', 'r.id', 'p.release_id')
    .join('stage_members as m', 'm.release_id', 'r.id')
    .where({ 'r.repo_kind': of.kind, 'r.platform': of.platform, 'r.arch': of.arch, 'm.stage': stage })
    .whereNot('r.id', exceptId)
    .select('p.header');
