/** The recorded index entries of packages (services/storage/index-entries.ts). */
import type { IndexEntry } from '../storage/index-entries.ts';
import type { Db } from './knex.ts';

export async function saveEntries(db: Db, entries: IndexEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const rows = entries.slice(i, i + 500).map((e) => ({ sha256: e.sha256, filename: e.filename, kind: e.kind, parts: e.parts }));
    await db('index_entries').insert(rows).onConflict(['sha256', 'filename']).ignore();
  }
}
