import { addToStage, packagesOfView, removeFromStage } from '../../services/db/stage-members.ts';
import { lockKeys, withLocks } from '../../services/db/locks.ts';
import { publishRepository } from '../../services/storage/publish.ts';
import type { RepoKind, Stage } from '../../services/storage/repo-ref.ts';
import type { StepContext } from '../engine/step.ts';

export interface PublishOutput {
  url: string;
  clientFileUrl: string;
  version: number;
  durationMs: number;
}

export interface ViewChange {
  /** show this release too */
  include?: number;
  /** stop showing this release */
  exclude?: number;
  /** a stage whose index already has these packages' checksums (promotion reads no package) */
  reuseFrom?: Stage;
}

/**
 * Rebuilds one stage's repository of a product from the releases it shows (stage_members), changed by
 * `change`, under the repository lock, so two tickets of one product never interleave their builds. The
 * membership changes only once the new index is live: a failed build changes neither. Idempotent.
 */
export async function publishView(
  ctx: StepContext,
  stage: Stage,
  product: string,
  kind: RepoKind,
  change: ViewChange,
): Promise<PublishOutput> {
  const { db, config, signer } = ctx.deps;
  return withLocks(db, [lockKeys.repo(stage, product)], async () => {
    const rows = await ctx.timings.time('db', () => packagesOfView(db, stage, product, change));
    // index: the whole publish (hard links, createrepo_c / apt-ftparchive, the fsyncs of the index, the swap)
    const r = await ctx.timings.time('index', () =>
      publishRepository({ stage, product, kind }, rows, {
        storageDir: config.STORAGE_DIR,
        publicUrl: config.PUBLIC_URL,
        signer,
        reuseFrom: change.reuseFrom ? [{ stage: change.reuseFrom, product, kind }] : undefined,
      }),
    );
    await ctx.timings.time('db', async () => {
      if (change.include !== undefined) await addToStage(db, change.include, stage);
      if (change.exclude !== undefined) await removeFromStage(db, change.exclude, stage);
    });
    await ctx.progress({ step: 'publish', repo: r.url, packages: rows.length });
    return { url: r.url, clientFileUrl: r.clientFile.url, version: r.version, durationMs: r.durationMs };
  });
}
