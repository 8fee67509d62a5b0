import { checkDependencies, type DependencyCheck } from '../../services/deps/check.ts';
import type { Stage } from '../../services/storage/repo-ref.ts';
import { PROMOTION_TARGETS } from '../../services/workflow/transitions.ts';
import type { Step } from '../engine/step.ts';

/**
 * Before anything moves: the release's requirements against the target's index, itself and the base
 * (BASE_PROVIDES and the base repositories of its platform). A base repository never read fails the step
 * transiently (RD_BASE_REPO_UNAVAILABLE): retried, never taken for unmet.
 * Unmet is not an error: the release will wait as Incomplete, outside every index.
 */
export function checkTarget(target: Stage): Step<DependencyCheck> {
  return {
    id: `check-dependencies-${target}`,
    run: (ctx) => ctx.timings.time('deps', () => checkDependencies(ctx.deps.db, ctx.releaseId, target, ctx.deps.config, { log: ctx.log })),
  };
}

/** What the provider learns after Unverified: would it pass further right now? */
export const planPromotion: Step<DependencyCheck[]> = {
  id: 'plan-promotion',
  run: async (ctx) =>
    ctx.timings.time('deps', () =>
      Promise.all(PROMOTION_TARGETS.map((t) => checkDependencies(ctx.deps.db, ctx.releaseId, t, ctx.deps.config, { log: ctx.log }))),
    ),
};
