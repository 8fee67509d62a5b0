import type { DriftDeps } from '../services/drift/check.ts';
import { runDriftCheck } from '../services/drift/report.ts';
import type { Logger } from '../services/log.ts';
import type { Metrics } from '../services/metrics.ts';
import { every, type Loop } from './loops.ts';

/** The drift check every DRIFT_INTERVAL_MS, one process at a time (README: Drift). */
export const driftLoop = (deps: DriftDeps & { log: Logger; metrics: Metrics }, ms: number): Loop =>
  every(deps.db, 'drift', ms, deps.log, async () => {
    await runDriftCheck(deps);
  });
