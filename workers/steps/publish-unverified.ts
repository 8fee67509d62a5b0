import { targetOf } from '../../services/workflow/transitions.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { outputOf, type Step } from '../engine/step.ts';
import { publishView, type PublishOutput } from './views.ts';

/** Unverified shows every release of the product in Unverified, plus this one once its bytes are in. */
export const publishUnverified: Step<PublishOutput> = {
  id: 'publish-unverified',
  async run(ctx) {
    const { metadata: m } = outputOf(ctx, fetchMetadata);
    return publishView(ctx, targetOf('MoveToUnverified'), m.productShortName, m.repoKind, { include: ctx.releaseId });
  },
  async undo(ctx) {
    const { metadata: m } = outputOf(ctx, fetchMetadata);
    await publishView(ctx, targetOf('MoveToUnverified'), m.productShortName, m.repoKind, { exclude: ctx.releaseId });
  },
};
