import { RdError } from '../../services/errors.ts';
import { loadRelease } from './load-release.ts';
import { mustWait } from './promote.ts';
import { outputOf, type Step } from '../engine/step.ts';

/**
 * The product's next revision, handed out at publication and never again (Bodhi/Pulp style): an atomic
 * per-product counter, and a unique index on (product, revision) as the last guard. The number is written
 * to the release in the same transaction as the counter, so a worker killed before its checkpoint finds it
 * there on the rerun instead of taking the next one. A release restored from Deprecated keeps its revision.
 * A failed publication burns its number: undo clears it, and the next attempt takes a new one.
 */
export const allocateRevision: Step<{ revision: number | null; restored: boolean }> = {
  id: 'allocate-revision',
  async run(ctx) {
    const r = outputOf(ctx, loadRelease);
    const { db, config } = ctx.deps;
    if (mustWait(ctx, 'production')) return { revision: r.revision, restored: false };
    const now = await db('releases').where({ id: ctx.releaseId }).first('revision', 'deprecated_at');
    if (now.revision !== null) {
      const deprecatedAt = now.deprecated_at ? new Date(now.deprecated_at) : null;
      const days = config.DEPRECATED_RETENTION_DAYS;
      if (deprecatedAt && Date.now() - deprecatedAt.getTime() > days * 86_400_000) {
        throw new RdError('RD_RETENTION_EXPIRED', `revision v${now.revision} was deprecated on ${deprecatedAt.toISOString().slice(0, 10)}, more than ${days} days ago`);
      }
      return { revision: Number(now.revision), restored: deprecatedAt !== null };
    }
    const revision = await db.transaction(async (trx) => {
      const { rows } = await trx.raw(
        `INSERT INTO product_revisions (product_short_name, last) VALUES (?, 1)
         ON CONFLICT (product_short_name) DO UPDATE SET last = product_revisions.last + 1 RETURNING last`,
        [r.product],
      );
      await trx('releases').where({ id: ctx.releaseId }).update({ revision: rows[0].last });
      return rows[0].last as number;
    });
    return { revision, restored: false };
  },
  async undo(ctx, out) {
    if (out.revision !== null && !out.restored) await ctx.deps.db('releases').where({ id: ctx.releaseId, revision: out.revision }).update({ revision: null });
  },
};
