import type { ActionPlan } from '../engine/step.ts';
import { targetOf, type RepoAction } from '../../services/workflow/transitions.ts';
import { checkHeaders } from './check-headers.ts';
import { checkConflicts } from './conflicts.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { publishUnverified } from './publish-unverified.ts';
import { recordRelease } from './record-release.ts';
import { allocateRevision } from './allocate-revision.ts';
import { findSuccessor } from './deprecate.ts';
import { checkTarget, planPromotion } from './dependencies.ts';
import { loadRelease } from './load-release.ts';
import { readActionNote } from './action-note.ts';
import { promoteInto, withdrawFromSource } from './promote.ts';
import { writeEvidenceStep } from './evidence.ts';
import { deprecateSummary, productionSummary, rejectSummary, stageSummary, unverifiedSummary } from './summaries.ts';

const unverified = targetOf('MoveToUnverified');
const stageRollOut = targetOf('MoveToStageRollOut');
const production = targetOf('MoveToProduction');

/** Which steps each RepoAction runs, and what it writes back to the ticket once they all succeeded. */
export const plans: Record<RepoAction, ActionPlan> = {
  MoveToUnverified: {
    steps: [fetchMetadata, fetchPackages, checkHeaders, recordRelease, checkConflicts(unverified), publishUnverified, planPromotion],
    summary: unverifiedSummary,
  },
  MoveToStageRollOut: {
    steps: [loadRelease, checkConflicts(stageRollOut), checkTarget(stageRollOut), promoteInto(stageRollOut), withdrawFromSource],
    summary: stageSummary,
  },
  MoveToProduction: {
    steps: [
      loadRelease,
      checkConflicts(production),
      checkTarget(production),
      allocateRevision,
      promoteInto(production),
      withdrawFromSource,
      writeEvidenceStep,
    ],
    summary: productionSummary,
  },
  Reject: { steps: [loadRelease, readActionNote, withdrawFromSource], summary: rejectSummary },
  Deprecate: { steps: [loadRelease, readActionNote, findSuccessor, withdrawFromSource], summary: deprecateSummary },
};
