/** The recorded index entries of packages (services/storage/index-entries.ts), and a distribution's members. */
import type { IndexEntry } from '../storage/index-entries.ts';
import type { RepoKind } from '../storage/repo-ref.ts';
import type { Db } from './knex.ts';

export async function saveEntries(db: Db, entries: IndexEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const rows = entries.slice(i, i + 500).map((e) => ({ sha256: e.sha256, filename: e.filename, kind: e.kind, parts: e.parts }));
    await db('index_entries').insert(rows).onConflict(['sha256', 'filename']).ignore();
  }
}

/** Which distribution: the releases shown in `stage` with this kind, platform and arch, of any product. */
export interface DistributionKey {
  stage: string;
  kind: RepoKind;
  platform: string;
  arch: string;
}

/**
 * The packages of a distribution, with one release more (include) or less (exclude), each file once, with
 * its recorded entry when there is one (parts null: not recorded yet).
 */
export async function distributionPackages(
  db: Db,
  d: DistributionKey,
  change: { include?: number; exclude?: number },
): Promise<Array<{ sha256: string; filename: string; releaseId: number; parts: Buffer[] | null }>> {
  const shown = db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .where({ 'm.stage': d.stage, 'r.repo_kind': d.kind, 'r.platform': d.platform, 'r.arch': d.arch })
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
    .select('p.sha256', 'p.filename', 'p.release_id as releaseId', 'e.parts');
}
