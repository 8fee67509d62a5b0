import type { ActionPlan } from '../../services/workflow/engine.ts';
import type { RepoAction } from '../../services/workflow/transitions.ts';
import { checkHeaders } from './check-headers.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { publishUnverified } from './publish-unverified.ts';
import { recordRelease } from './record-release.ts';
import { unverifiedSummary } from './summary.ts';

/** Which steps each RepoAction runs; actions not listed are refused by the workflow table until they exist. */
export const plans: Partial<Record<RepoAction, ActionPlan>> = {
  MoveToUnverified: {
    steps: [fetchMetadata, fetchPackages, checkHeaders, recordRelease, publishUnverified],
    summary: unverifiedSummary,
  },
};
