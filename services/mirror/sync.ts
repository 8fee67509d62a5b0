import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pMap from 'p-map';
import { forgetObjects, knownObjects, markSyncAttempt, markSyncSuccess, recordObjects } from '../db/mirrors.ts';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { BlobStore } from '../storage/blobs.ts';
import type { MirrorFile } from './files.ts';
import { planSync, type SyncPlan, type Upload } from './plan.ts';
import { RsyncTarget } from './rsync-target.ts';
import { describeTarget, type MirrorTarget, type TargetSpec } from './target.ts';
import { mirrorView, type MirrorView } from './view.ts';

export interface SyncDeps {
  db: Db;
  log: Logger;
  storageDir: string;
}

export interface SyncReport {
  target: string;
  where: string;
  dryRun: boolean;
  fingerprint: string;
  repositories: number;
  /** the view: what the target holds when the sync is over */
  files: number;
  bytes: number;
  upload: { files: number; copies: number; bytes: number; byPhase: Record<MirrorFile['phase'], number> };
  delete: { files: number; bytes: number; enabled: boolean };
  unchanged: number;
  changedOnTarget: string[];
  durationMs: number;
}

export async function openTarget(spec: TargetSpec, storageDir: string): Promise<MirrorTarget> {
  if (spec.kind === 'rsync') return new RsyncTarget(spec, join(storageDir, 'tmp'));
  // only a service with an S3 mirror loads the AWS SDK (~6 MB of heap that every full GC marks)
  const { S3Target } = await import('./s3-target.ts');
  return new S3Target(spec);
}

/**
 * Makes the target hold Production as it is now (kata-pkgsync's job): reads the live view, lists the target,
 * plans the difference by path and digest, then puts packages, indexes and signed files in that order, and
 * deletes orphans last, when the target is set to. Each file put is recorded as it lands, so a killed sync
 * sends only what is still missing. A dry run stops after the plan and changes nothing.
 */
export interface SyncOptions {
  dryRun?: boolean;
  view?: MirrorView;
  /** tests: a target that fails on cue */
  wrapTarget?: (t: MirrorTarget) => MirrorTarget;
}

export async function syncTarget(spec: TargetSpec, deps: SyncDeps, opts: SyncOptions = {}): Promise<SyncReport> {
  const t0 = performance.now();
  const view =
    opts.view ?? (await mirrorView({ db: deps.db, storageDir: deps.storageDir, stage: 'production', publicUrl: spec.publicUrl }));
  const opened = await openTarget(spec, deps.storageDir);
  const target = opts.wrapTarget ? opts.wrapTarget(opened) : opened;
  try {
    if (!opts.dryRun) await markSyncAttempt(deps.db, spec.name);
    const [listed, known] = await Promise.all([target.list(), knownObjects(deps.db, spec.name)]);
    const plan = planSync(view.files, listed, known, { deleteOrphans: spec.deleteOrphans });
    const log = deps.log.child({ mirror: spec.name });
    if (plan.changedOnTarget.length)
      log.warn(
        { paths: plan.changedOnTarget.slice(0, 20), count: plan.changedOnTarget.length },
        'files changed on the mirror behind releasedesk: put back',
      );
    if (!opts.dryRun) {
      await recordObjects(deps.db, spec.name, plan.adopt);
      await apply(target, plan, spec.name, deps, log);
      await markSyncSuccess(deps.db, spec.name, {
        fingerprint: view.fingerprint,
        files: view.files.length,
        bytes: sum(view.files),
        uploaded: plan.upload.length,
        deleted: plan.delete.length,
        uploadedBytes: plan.bytesUp,
      });
    }
    const report = reportOf(spec, view, plan, !!opts.dryRun, performance.now() - t0);
    if (!opts.dryRun && (plan.upload.length || plan.delete.length))
      log.info(
        { uploaded: report.upload.files, bytes: report.upload.bytes, deleted: report.delete.files, ms: report.durationMs },
        'mirror synced',
      );
    return report;
  } finally {
    await target.close();
  }
}

async function apply(target: MirrorTarget, plan: SyncPlan, name: string, deps: SyncDeps, log: Logger): Promise<void> {
  const sha = new Map(plan.upload.map((u) => [u.path, u]));
  for (const phase of ['package', 'index', 'signed'] as const) {
    const files = plan.upload.filter((u) => u.phase === phase);
    if (!files.length) continue;
    const t0 = performance.now();
    await blobsHere(files, deps.storageDir);
    await target.put(files, async (path, tag) => {
      const u = sha.get(path)!;
      await recordObjects(deps.db, name, [{ path, sha256: u.sha256, size: u.size, tag }]);
    });
    log.debug({ phase, files: files.length, ms: Math.round(performance.now() - t0) }, 'mirror phase put');
  }
  if (plan.delete.length) {
    const paths = plan.delete.map((d) => d.path);
    await target.remove(paths);
    await forgetObjects(deps.db, name, paths);
  }
}

/**
 * A package whose blob this machine's STORAGE_DIR lacks (another worker fetched it) is got from the object
 * store behind the blobs before the target reads it. Copies too: rsync links every file it sends. Without an
 * object store nothing is asked; with one, a blob here costs a stat.
 */
async function blobsHere(files: Upload[], storageDir: string): Promise<void> {
  const blobs = new BlobStore(storageDir);
  if (!blobs.objects) return;
  const shas = new Set(files.flatMap((f) => ('blob' in f.source ? [f.source.blob] : [])));
  await pMap(shas, (sha) => blobs.local(sha), { concurrency: 4 });
}

function reportOf(spec: TargetSpec, view: MirrorView, plan: SyncPlan, dryRun: boolean, ms: number): SyncReport {
  const byPhase = { package: 0, index: 0, signed: 0 };
  for (const u of plan.upload) byPhase[u.phase]++;
  return {
    target: spec.name,
    where: describeTarget(spec),
    dryRun,
    fingerprint: view.fingerprint,
    repositories: view.repositories.length,
    files: view.files.length,
    bytes: sum(view.files),
    upload: { files: plan.upload.length, copies: plan.upload.filter((u) => u.copyFrom).length, bytes: plan.bytesUp, byPhase },
    delete: { files: plan.delete.length, bytes: plan.bytesDeleted, enabled: spec.deleteOrphans },
    unchanged: plan.unchanged,
    changedOnTarget: plan.changedOnTarget,
    durationMs: Math.round(ms),
  };
}

const sum = (files: Array<{ size: number }>) => files.reduce((n, f) => n + f.size, 0);
