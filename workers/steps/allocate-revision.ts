import { RdError } from '../../services/errors.ts';
import { loadRelease } from './load-release.ts';
import { mustWait } from './promote.ts';
import { outputOf, type Step } from './types.ts';

/**
 * The product's next revision, handed out at publication and never again (Bodhi/Pulp style): an atomic
 * per-product counter, and a unique index on (product, revision) as the last guard. A release restored
 * from Deprecated keeps the revision it had. Checkpointed, so a rerun keeps the same number.
 */
export const allocateRevision: Step<{ revision: number | null; restored: boolean }> = {
  id: 'allocate-revision',
  async run(ctx) {
    const r = outputOf(ctx, loadRelease);
    if (mustWait(ctx, 'production')) return { revision: r.revision, restored: false };
    if (r.revision !== null) {
      const days = ctx.deps.config.DEPRECATED_RETENTION_DAYS;
      if (r.deprecatedAt && Date.now() - Date.parse(r.deprecatedAt) > days * 86_400_000) {
        throw new RdError('RD_RETENTION_EXPIRED', `revision v${r.revision} was deprecated on ${r.deprecatedAt.slice(0, 10)}, more than ${days} days ago`);
      }
      return { revision: r.revision, restored: true };
    }
    const { rows } = await ctx.deps.db.raw(
      `INSERT INTO product_revisions (product_short_name, last) VALUES (?, 1)
       ON CONFLICT (product_short_name) DO UPDATE SET last = product_revisions.last + 1 RETURNING last`,
      [r.product],
    );
    return { revision: rows[0].last as number, restored: false };
  },
};
