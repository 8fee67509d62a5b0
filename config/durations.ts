import { z } from 'zod';
import { REPO_STATUSES, type RepoStatus } from '../services/workflow/transitions.ts';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/**
 * SLA_DEADLINES: "Unverified=30d,StageRollOut=14d" (units d, h, m, s), or "none": how long a release may stay
 * in a status before it is overdue. Statuses that wait for no one (Incomplete) take no deadline.
 */
export const statusDeadlines = z.string().transform((v, ctx) => {
  const out: Partial<Record<RepoStatus, number>> = {};
  if (v.trim().toLowerCase() === 'none') return out;
  for (const pair of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z]+)\s*=\s*(\d+)\s*([dhms])$/.exec(pair);
    if (!m || !REPO_STATUSES.includes(m[1] as RepoStatus)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${pair}" is not STATUS=DURATION (e.g. Unverified=30d; units d, h, m, s) with STATUS one of ${REPO_STATUSES.join(', ')}`,
      });
      continue;
    }
    if (['Incomplete', 'Processing', 'New'].includes(m[1]!)) {
      ctx.addIssue({ code: 'custom', message: `"${pair}": ${m[1]} takes no deadline (the release waits for no one's decision there)` });
      continue;
    }
    const ms = Number(m[2]) * UNIT_MS[m[3]!]!;
    if (ms <= 0) ctx.addIssue({ code: 'custom', message: `"${pair}": the duration must be more than 0` });
    else out[m[1] as RepoStatus] = ms;
  }
  return out;
});
