import type { Config } from '../../config/index.ts';
import { unusedBlobs } from '../db/blobs.ts';
import type { Db } from '../db/knex.ts';
import { lockKeys, withLocks } from '../db/locks.ts';
import { enqueueWriteBack } from '../db/outbox.ts';
import { purgeCandidates, purgeRecord, usedElsewhere, type PurgeCandidate, type PurgedStatus } from '../db/retention.ts';
import { isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { removeBlobs, removeExports, storeAnswers } from './purge-files.ts';

/**
 * Retention, the seeds' final delete (the package-approval flow's deletionProposed -> deleted, the depot's
 * ABANDONED): a release Deprecated, Rejected or Failed for longer than its retention loses its packages. A
 * package file is deleted unless another release ships the same bytes; the release record, its history and its
 * ticket stay, and the tombstone lists what was deleted. Mirrors drop the files with their orphans (`;delete`),
 * since no live index names them.
 */
export type RetentionConfig = Pick<
  Config,
  'STORAGE_DIR' | 'DEPRECATED_RETENTION_DAYS' | 'REJECTED_RETENTION_DAYS' | 'FAILED_RETENTION_DAYS'
>;

export interface GcDeps {
  db: Db;
  log: Logger;
  config: RetentionConfig;
}

export interface GcRelease {
  ticket: number;
  product: string | null;
  version: string | null;
  status: PurgedStatus;
  since: string;
  days: number;
  packages: number;
  /** files deleted with this release (those no other release ships) and their bytes */
  deleted: number;
  bytesFreed: number;
  /** files kept because another release (or an action in flight) uses the same bytes */
  kept: number;
}

export interface GcPlan {
  dryRun: boolean;
  releases: GcRelease[];
  /** blobs no release records, left by a purge or an undo cut short */
  leftovers: { files: number; bytes: number };
  bytesFreed: number;
}

const DAY = 86_400_000;

export function cutoffs(config: RetentionConfig, now: Date): Record<PurgedStatus, Date> {
  const ago = (days: number) => new Date(now.getTime() - days * DAY);
  return {
    Deprecated: ago(config.DEPRECATED_RETENTION_DAYS),
    Rejected: ago(config.REJECTED_RETENTION_DAYS),
    Failed: ago(config.FAILED_RETENTION_DAYS),
  };
}

const LEFTOVER_AGE_MS = DAY;

/** What a purge would do now. The bytes of a file shared only by releases purged together count once. */
export async function gcPlan(deps: GcDeps, now = new Date()): Promise<{ plan: GcPlan; candidates: PurgeCandidate[] }> {
  const candidates = await purgeCandidates(deps.db, cutoffs(deps.config, now));
  const shas = [...new Set(candidates.flatMap((c) => c.packages.map((p) => p.sha256)))];
  const used = await usedElsewhere(
    deps.db,
    shas,
    candidates.map((c) => c.releaseId),
  );
  const counted = new Set<string>();
  const releases = candidates.map((c) => {
    let deleted = 0;
    let bytesFreed = 0;
    for (const p of c.packages) {
      if (used.has(p.sha256) || counted.has(p.sha256)) continue;
      counted.add(p.sha256);
      deleted++;
      bytesFreed += p.size;
    }
    return {
      ticket: c.ticketId,
      product: c.product,
      version: c.version,
      status: c.status,
      since: c.since.toISOString(),
      days: Math.floor((now.getTime() - c.since.getTime()) / DAY),
      packages: c.packages.length,
      deleted,
      bytesFreed,
      kept: c.packages.filter((p) => used.has(p.sha256)).length,
    };
  });
  const left = await unusedBlobs(deps.db, new Date(now.getTime() - LEFTOVER_AGE_MS));
  const leftovers = { files: left.length, bytes: left.reduce((n, b) => n + b.size, 0) };
  const bytesFreed = releases.reduce((n, r) => n + r.bytesFreed, 0) + leftovers.bytes;
  return { plan: { dryRun: true, releases, leftovers, bytesFreed }, candidates };
}

/**
 * Purges what gcPlan finds, one release at a time under its ticket's lock (no action on it runs meanwhile):
 * its record first, in one transaction with its ticket comment, then the files nobody uses any more. A purge
 * killed between the two, or whose object store failed to delete, leaves blob rows that no release records;
 * the next run deletes them (leftovers). An object store that does not answer at all stops the run before
 * anything is purged (purge-files.ts).
 */
export async function runGc(deps: GcDeps, now = new Date()): Promise<GcPlan> {
  await storeAnswers(deps.config.STORAGE_DIR, deps.log);
  const { plan, candidates } = await gcPlan(deps, now);
  const remove = (shas: string[]) => removeBlobs(deps.db, deps.log, deps.config.STORAGE_DIR, shas);
  const done: GcRelease[] = [];
  for (const [i, c] of candidates.entries()) {
    const r = plan.releases[i]!;
    try {
      const purged = await withLocks(
        deps.db,
        [lockKeys.ticket(c.ticketId)],
        () =>
          deps.db.transaction(async (trx) => {
            const at = now.toISOString();
            const reason = `retention: ${c.status} for ${r.days} days (${retentionKey(c.status)}=${retentionDays(deps.config, c.status)})`;
            if (!(await purgeRecord(trx, c, { at, reason, bytesFreed: r.bytesFreed, kept: r.kept }))) return false;
            await enqueueWriteBack(trx, c.ticketId, `purge:${c.releaseId}:${at}`, {
              kind: 'comment',
              text: purgeComment(c, r, deps.config),
            });
            return true;
          }),
        500, // a ticket whose action runs now is purged next time
      );
      if (!purged) continue;
    } catch (e) {
      if (isRdError(e) && e.code === 'RD_BUSY') continue; // an action runs on the ticket: next time
      throw e;
    }
    // the exports first: they are this machine's alone, and a store that fails below must not keep them
    await removeExports(deps.config.STORAGE_DIR, c.ticketId);
    await remove(c.packages.map((p) => p.sha256));
    deps.log.info(
      { ticket: c.ticketId, status: c.status, deleted: r.deleted, bytesFreed: r.bytesFreed, kept: r.kept },
      'release purged (retention)',
    );
    done.push(r);
  }
  const left = await unusedBlobs(deps.db, new Date(now.getTime() - LEFTOVER_AGE_MS));
  const removed = await remove(left.map((b) => b.sha256));
  const leftBytes = left.filter((b) => removed.includes(b.sha256)).reduce((n, b) => n + b.size, 0);
  if (removed.length) deps.log.info({ files: removed.length, bytes: leftBytes }, 'removed blobs no release records');
  return {
    dryRun: false,
    releases: done,
    leftovers: { files: removed.length, bytes: leftBytes },
    bytesFreed: done.reduce((n, r) => n + r.bytesFreed, 0) + leftBytes,
  };
}

const retentionKey = (s: PurgedStatus) =>
  ({ Deprecated: 'DEPRECATED_RETENTION_DAYS', Rejected: 'REJECTED_RETENTION_DAYS', Failed: 'FAILED_RETENTION_DAYS' })[s];
const retentionDays = (c: RetentionConfig, s: PurgedStatus) => c[retentionKey(s) as keyof RetentionConfig];

function purgeComment(c: PurgeCandidate, r: GcRelease, config: RetentionConfig): string {
  const mib = (r.bytesFreed / 2 ** 20).toFixed(1);
  const kept = r.kept ? ` ${r.kept} file(s) stay because other releases ship the same bytes.` : '';
  const next =
    c.status === 'Deprecated'
      ? 'It can no longer be restored to Production; to ship it again, open a new ticket.'
      : 'MoveToUnverified on this ticket downloads the packages again.';
  return (
    `[RD_RELEASE_PURGED] This release was ${c.status} for ${r.days} days, longer than its retention ` +
    `(${retentionKey(c.status)}=${retentionDays(config, c.status)}): its ${r.deleted} package file(s) were deleted from storage (${mib} MiB freed).${kept}\n\n` +
    `The record, its history and this ticket stay; the tombstone lists what was deleted. ${next}`
  );
}
