import { randomUUID } from 'node:crypto';
import type { Config } from '../config/index.ts';
import type { Db } from '../services/db/knex.ts';
import { awaitingMirror, markSyncFailure, mirrorTargetRow, noteMirrorNotice, type MirrorTargetRow } from '../services/db/mirrors.ts';
import { enqueueWriteBack } from '../services/db/outbox.ts';
import { isRdError } from '../services/errors.ts';
import { mirrorFailedComment } from '../services/helpdesk/comments.ts';
import type { Logger } from '../services/log.ts';
import type { Metrics } from '../services/metrics.ts';
import { syncTarget } from '../services/mirror/sync.ts';
import { lagSeconds } from '../services/mirror/status.ts';
import { describeTarget, type TargetSpec } from '../services/mirror/target.ts';
import { viewFingerprint } from '../services/mirror/view.ts';
import { every, type Loop } from './loops.ts';

export interface MirrorDeps {
  db: Db;
  log: Logger;
  metrics: Metrics;
  config: Pick<Config, 'STORAGE_DIR' | 'MIRROR_TARGETS' | 'MIRROR_SYNC_INTERVAL_MS' | 'MIRROR_CHECK_MS'>;
  /** wakes the outbox when a ticket was told about a mirror */
  writeBacksQueued?: () => void;
}

/**
 * Keeps every mirror of Production in step: each look compares the live view's fingerprint with the one the
 * target was last synced to, so any number of Production changes between two looks make one sync; a full
 * sync runs at least every MIRROR_SYNC_INTERVAL_MS. A failing target is tried again with backoff, and each
 * release waiting for it gets one comment. One process at a time syncs (the loop's PostgreSQL lock).
 */
export function mirrorLoop(deps: MirrorDeps): Loop {
  return every(deps.db, 'mirror', deps.config.MIRROR_CHECK_MS, deps.log, () => mirrorOnce(deps), true);
}

export async function mirrorOnce(deps: MirrorDeps, now = new Date()): Promise<void> {
  for (const spec of deps.config.MIRROR_TARGETS) {
    const row = await mirrorTargetRow(deps.db, spec.name);
    const fingerprint = await viewFingerprint({
      db: deps.db,
      storageDir: deps.config.STORAGE_DIR,
      stage: 'production',
      publicUrl: spec.publicUrl,
    });
    if (!due(row, fingerprint, now, deps.config)) {
      await observe(deps, spec.name, fingerprint, now);
      continue;
    }
    try {
      const report = await syncTarget(spec, { db: deps.db, log: deps.log, storageDir: deps.config.STORAGE_DIR });
      deps.metrics.mirrorSyncs.inc({ target: spec.name, outcome: 'ok' });
      deps.metrics.mirrorUploadedBytes.inc({ target: spec.name }, report.upload.bytes);
    } catch (e) {
      await failed(deps, spec, e);
    }
    await observe(deps, spec.name, fingerprint, now);
  }
}

/** Changed since its last good sync, or a full sync is due; after a failure, not before its backoff is over. */
function due(row: MirrorTargetRow | undefined, fingerprint: string, now: Date, config: MirrorDeps['config']): boolean {
  if (!row?.last_success_at) return retryDue(row, now, config);
  const changed = row.fingerprint !== fingerprint;
  const stale = now.getTime() - row.last_success_at.getTime() >= config.MIRROR_SYNC_INTERVAL_MS;
  return (changed || stale) && retryDue(row, now, config);
}

function retryDue(row: MirrorTargetRow | undefined, now: Date, config: MirrorDeps['config']): boolean {
  if (!row?.failures || !row.last_attempt_at) return true;
  const backoff = Math.min(config.MIRROR_CHECK_MS * 2 ** (row.failures - 1), MAX_BACKOFF_MS);
  return now.getTime() - row.last_attempt_at.getTime() >= backoff;
}

const MAX_BACKOFF_MS = 5 * 60_000;

async function failed(deps: MirrorDeps, spec: TargetSpec, e: unknown): Promise<void> {
  const ref = randomUUID().slice(0, 8);
  const code = isRdError(e) ? e.code : 'RD_INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  const failures = await markSyncFailure(deps.db, spec.name, code, message);
  deps.metrics.mirrorSyncs.inc({ target: spec.name, outcome: 'failed' });
  deps.log.warn(
    { mirror: spec.name, code, err: message, failures, ref, ...(isRdError(e) ? {} : { stack: (e as Error)?.stack }) },
    'mirror sync failed',
  );
  let told = 0;
  for (const w of await awaitingMirror(deps.db, spec.name)) {
    await deps.db.transaction(async (trx) => {
      if (!(await noteMirrorNotice(trx, spec.name, w.transition_id))) return;
      const text = mirrorFailedComment({ action: w.action, mirror: spec.name, where: describeTarget(spec), err: e, ref });
      await enqueueWriteBack(trx, w.ticket_id, `mirror:${spec.name}:${w.transition_id}`, { kind: 'comment', text });
      told++;
    });
  }
  if (told) deps.writeBacksQueued?.();
}

/** Lag: 0 while the target holds Production as it is, else the time since its last good sync. */
async function observe(deps: MirrorDeps, name: string, fingerprint: string, now: Date): Promise<void> {
  const row = await mirrorTargetRow(deps.db, name);
  deps.metrics.mirrorFailures.set({ target: name }, row?.failures ?? 0);
  deps.metrics.mirrorLagSeconds.set({ target: name }, lagSeconds(row, fingerprint, now));
}
