/** The recorded index entries of packages (services/storage/index-entries.ts). */
import type { IndexEntry } from '../storage/index-entries.ts';
import type { Db } from './knex.ts';

export async function saveEntries(db: Db, entries: IndexEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const rows = entries.slice(i, i + 500).map((e) => ({
      sha256: e.sha256,
      filename: e.filename,
      kind: e.kind,
      part0: e.parts[0],
      part1: e.parts[1] ?? null,
      part2: e.parts[2] ?? null,
    }));
    await db('index_entries').insert(rows).onConflict(['sha256', 'filename']).ignore();
  }
}

/** An entry's columns: part1 and part2 only for YUM; all null on a left join that found no entry. */
export interface EntryColumns {
  part0: Buffer | null;
  part1: Buffer | null;
  part2: Buffer | null;
}

export const partsOf = (row: EntryColumns): Buffer[] | null =>
  row.part0 === null ? null : [row.part0, row.part1, row.part2].filter((p): p is Buffer => p !== null);

/** Which of these packages already have a recorded entry (`<sha256>/<filename>`). */
export async function recordedKeys(db: Db, packages: Array<{ sha256: string; filename: string }>): Promise<Set<string>> {
  const found = new Set<string>();
  const shas = [...new Set(packages.map((p) => p.sha256))];
  // by digest alone, one array parameter: a list of (sha256, filename) pairs is planned slowly for what it finds
  for (let i = 0; i < shas.length; i += 5000) {
    const rows: Array<{ sha256: string; filename: string }> = await db('index_entries')
      .select('sha256', 'filename')
      .whereRaw('sha256 = ANY(?)', [shas.slice(i, i + 5000)]);
    for (const r of rows) found.add(`${r.sha256}/${r.filename}`);
  }
  return found;
}
