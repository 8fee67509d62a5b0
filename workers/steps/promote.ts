import type { Stage } from '../../services/storage/repo-ref.ts';
import { STAGE_OF_STATUS } from '../../services/workflow/transitions.ts';
import { checkTarget } from './dependencies.ts';
import { loadRelease } from './load-release.ts';
import { outputOf, type Step, type StepContext } from '../engine/step.ts';
import { publishView, type PublishOutput } from './views.ts';

/** The stage the release is leaving, if the status it started from is shown in one. */
export const sourceStage = (ctx: StepContext): Stage | undefined => STAGE_OF_STATUS[ctx.fromStatus];

/** True when the release has to wait: the target cannot satisfy its requirements yet. */
export const mustWait = (ctx: StepContext, stage: Stage) => !outputOf(ctx, checkTarget(stage)).satisfied;

/**
 * Puts the release into `stage`'s index, from the index entries recorded when it entered Unverified: no
 * package is read and no byte moves. Nothing when it must wait (null).
 */
export function promoteInto(stage: Stage): Step<PublishOutput | null> {
  return {
    id: `promote-${stage}`,
    async run(ctx) {
      if (mustWait(ctx, stage)) return null;
      const r = outputOf(ctx, loadRelease);
      return publishView(ctx, stage, r.product, r.kind, { include: ctx.releaseId });
    },
    async undo(ctx, out) {
      if (!out) return;
      const r = outputOf(ctx, loadRelease);
      await publishView(ctx, stage, r.product, r.kind, { exclude: ctx.releaseId });
    },
  };
}

/** Takes the release out of the index of the stage it is leaving (nothing to do from Deprecated or Incomplete). */
export const withdrawFromSource: Step<{ stage: Stage | null; url: string | null; dist?: string }> = {
  id: 'withdraw-from-source',
  async run(ctx) {
    const stage = sourceStage(ctx);
    if (!stage) return { stage: null, url: null };
    const r = outputOf(ctx, loadRelease);
    const out = await publishView(ctx, stage, r.product, r.kind, { exclude: ctx.releaseId });
    return { stage, url: out.url, dist: out.dist.label };
  },
  async undo(ctx, out) {
    if (!out.stage) return;
    const r = outputOf(ctx, loadRelease);
    await publishView(ctx, out.stage, r.product, r.kind, { include: ctx.releaseId });
  },
};
