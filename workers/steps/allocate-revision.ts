import { clearRevision, purgedAt, revisionOf } from '../../services/db/releases.ts';
import { takeNextRevision } from '../../services/db/revisions.ts';
import { RdError } from '../../services/errors.ts';
import { targetOf } from '../../services/workflow/transitions.ts';
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
    if (mustWait(ctx, targetOf('MoveToProduction'))) return { revision: r.revision, restored: false };
    const now = await revisionOf(db, ctx.releaseId);
    if (now.revision !== null) {
      const deprecatedAt = now.deprecated_at ? new Date(now.deprecated_at) : null;
      const days = config.DEPRECATED_RETENTION_DAYS;
      const purged = purgedAt(now);
      if (purged) throw new RdError('RD_RELEASE_PURGED', `revision v${now.revision}'s packages were purged on ${purged.slice(0, 10)}`);
      if (deprecatedAt && Date.now() - deprecatedAt.getTime() > days * 86_400_000) {
        throw new RdError(
          'RD_RETENTION_EXPIRED',
          `revision v${now.revision} was deprecated on ${deprecatedAt.toISOString().slice(0, 10)}, more than ${days} days ago`,
        );
      }
      return { revision: Number(now.revision), restored: deprecatedAt !== null };
    }
    const revision = await takeNextRevision(db, r.product, ctx.releaseId);
    return { revision, restored: false };
  },
  async undo(ctx, out) {
    if (out.revision !== null && !out.restored) await clearRevision(ctx.deps.db, ctx.releaseId, out.revision);
  },
};
