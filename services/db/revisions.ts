/** Product revisions (v1, v2 ...): a per-product counter, never reused. */
import type { Db } from './knex.ts';

/**
 * The product's next revision (a per-product counter, product_revisions), written to the release in the same
 * transaction: a worker killed before it checkpoints finds the number on the release instead of taking another.
 */
export async function takeNextRevision(db: Db, product: string, releaseId: number): Promise<number> {
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw(
      `INSERT INTO product_revisions (product_short_name, last) VALUES (?, 1)
         ON CONFLICT (product_short_name) DO UPDATE SET last = product_revisions.last + 1 RETURNING last`,
      [product],
    );
    await trx('releases').where({ id: releaseId }).update({ revision: rows[0].last });
    return rows[0].last as number;
  });
}
