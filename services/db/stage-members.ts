/**
 * Which releases each stage's repository of a product shows (stage_members). A repository index is
 * rebuilt from these rows; the membership changes only once the new index is live.
 */
import type { Db } from './knex.ts';

/** The packages of the releases `stage` shows for `product`, with one release more (include) or less (exclude). */
export const packagesOfView = (
  db: Db,
  stage: string,
  product: string,
  change: { include?: number; exclude?: number },
): Promise<Array<{ sha256: string; filename: string }>> => {
  const shown = db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .where({ 'm.stage': stage, 'r.product_short_name': product })
    .select('r.id');
  return db('packages as p')
    .where((q) => {
      q.whereIn('p.release_id', shown);
      if (change.include !== undefined) q.orWhere('p.release_id', change.include);
    })
    .modify((q) => {
      if (change.exclude !== undefined) q.whereNot('p.release_id', change.exclude);
    })
    .orderBy(['p.release_id', 'p.filename'])
    .select('p.sha256', 'p.filename');
};

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
