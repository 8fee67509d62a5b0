/**
 * Which stored blobs are in use, and by whom. A blob file is deleted only under the row lock of its
 * `blobs` row, after a fresh look at who uses it: a recorded package, or an action in flight that
 * claimed it (blob_claims). A claim takes the same row lock (shared), so it either comes first and
 * keeps the blob, or waits until the deletion is over and then finds the file gone.
 */
import type { Knex } from 'knex';
import type { Db, Exec } from './knex.ts';

export interface BlobRef {
  sha256: string;
  size: number;
}

/** The action `inboxId` relies on these blobs; waits for a deletion of any of them to be over. */
export async function claimBlobs(db: Db, inboxId: number, blobs: BlobRef[]): Promise<void> {
  if (!blobs.length) return;
  const shas = [...new Set(blobs.map((b) => b.sha256))];
  await db.transaction(async (trx) => {
    await trx('blobs').insert(blobs).onConflict('sha256').ignore();
    await trx('blobs').whereIn('sha256', shas).forShare().select('sha256');
    await trx('blob_claims')
      .insert(shas.map((sha256) => ({ inbox_id: inboxId, sha256 })))
      .onConflict(['inbox_id', 'sha256'])
      .ignore();
  });
}

/** The action's blobs are recorded as packages now: its claims are no longer needed. */
export async function dropClaims(db: Exec, inboxId: number): Promise<void> {
  await db('blob_claims').where({ inbox_id: inboxId }).del();
}

/** Deletes the blobs' bytes wherever they are kept; a failure keeps every row (the transaction is rolled back). */
export type Remove = (shas: string[]) => Promise<void>;

/**
 * Drops the action's claims on these blobs and deletes those nobody uses any more: `remove` (the files, the
 * objects) runs while their rows are locked, then the rows go. The claims go first, on their own: a `remove`
 * that fails (the object store away) then leaves rows nobody uses, which retention deletes later (leftovers),
 * not claims that would keep the blobs forever. Returns the digests removed.
 */
export async function releaseBlobs(db: Db, inboxId: number, shas: string[], remove: Remove): Promise<string[]> {
  if (!shas.length) return [];
  await db('blob_claims').where({ inbox_id: inboxId }).whereIn('sha256', shas).del();
  return removeUnusedBlobs(db, shas, remove);
}

/** Deletes the blobs among `shas` that no recorded package and no claim uses (retention, its sweep of leftovers). */
export async function removeUnusedBlobs(db: Db, shas: string[], remove: Remove): Promise<string[]> {
  if (!shas.length) return [];
  return db.transaction((trx) => removeUnused(trx, shas, remove));
}

async function removeUnused(trx: Knex.Transaction, shas: string[], remove: Remove): Promise<string[]> {
  const locked = (await trx('blobs').whereIn('sha256', shas).forUpdate().select('sha256')).map((r) => r.sha256 as string);
  if (!locked.length) return [];
  // a new statement, so a claim committed while this one waited for the locks is seen
  const unused: string[] = (
    await trx('blobs as b')
      .whereIn('b.sha256', locked)
      .whereNotExists(trx('packages as p').whereRaw('p.sha256 = b.sha256'))
      .whereNotExists(trx('blob_claims as c').whereRaw('c.sha256 = b.sha256'))
      .select('b.sha256')
  ).map((r) => r.sha256);
  if (!unused.length) return [];
  await remove(unused);
  await trx('blobs').whereIn('sha256', unused).del();
  return unused;
}

/**
 * Blob rows nobody uses, stored before `before`: what a purge or undo left that was killed between its commit and
 * its deletion, or whose deletion failed (the object store away).
 */
export async function unusedBlobs(db: Db, before: Date): Promise<BlobRef[]> {
  const rows = await db('blobs as b')
    .where('b.created_at', '<', before)
    .whereNotExists(db('packages as p').whereRaw('p.sha256 = b.sha256'))
    .whereNotExists(db('blob_claims as c').whereRaw('c.sha256 = b.sha256'))
    .select('b.sha256', 'b.size');
  return rows.map((r) => ({ sha256: r.sha256, size: Number(r.size) }));
}
