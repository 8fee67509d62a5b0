/** published_repos: the live repositories as the object store holds them (migration 013). */
import type { Db } from './knex.ts';

export interface PublishedFile {
  name: string;
  sha256: string;
  size: number;
}

export interface PublishedRow {
  path: string;
  stage: string;
  kind: 'yum' | 'apt';
  archive: string;
  files: PublishedFile[];
  stamp: string;
}

/** The repository at `path` now holds `files` in the store. */
export async function recordPublished(db: Db, row: PublishedRow): Promise<void> {
  await db('published_repos')
    .insert({ ...row, files: JSON.stringify(row.files), updated_at: db.fn.now() })
    .onConflict('path')
    .merge();
}

export async function publishedRepos(db: Db, stage?: string): Promise<PublishedRow[]> {
  const rows = await db('published_repos')
    .modify((q) => {
      if (stage) q.where({ stage });
    })
    .orderBy('path')
    .select('path', 'stage', 'kind', 'archive', 'files', 'stamp');
  return rows as PublishedRow[];
}
