import { productionRevisions } from '../../services/db/releases.ts';
import { loadRelease } from './load-release.ts';
import { outputOf, type Step } from '../engine/step.ts';

/** The tombstone: which revision clients fall back to once this one leaves the Production index. */
export const findSuccessor: Step<{ fallback: number | null; newer: number | null }> = {
  id: 'find-successor',
  async run(ctx) {
    const r = outputOf(ctx, loadRelease);
    const others = await productionRevisions(ctx.deps.db, r.product, ctx.releaseId);
    const below = others.filter((v) => v < (r.revision ?? 0));
    const above = others.filter((v) => v > (r.revision ?? 0));
    return { fallback: below.length ? Math.max(...below) : null, newer: above.length ? Math.min(...above) : null };
  },
};
