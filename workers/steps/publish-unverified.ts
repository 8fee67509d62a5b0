import { lockKeys, withLocks } from '../../services/locks.ts';
import { publishRepository } from '../../services/storage/publish.ts';
import type { RepoRef } from '../../services/storage/repo-ref.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import type { Step, StepContext } from './types.ts';
import { outputOf } from './types.ts';

export interface PublishOutput { url: string; clientFileUrl: string; version: number; durationMs: number }

/**
 * Unverified is a view: every package of the product's releases that are in Unverified, plus this one.
 * The index is rebuilt aside and swapped in; the repository lock keeps two tickets of one product apart.
 */
export const publishUnverified: Step<PublishOutput> = {
  id: 'publish-unverified',
  async run(ctx) {
    const repo = repoOf(ctx);
    return publishView(ctx, repo, true);
  },
  async undo(ctx) {
    await publishView(ctx, repoOf(ctx), false);
  },
};

function repoOf(ctx: StepContext): RepoRef {
  const { metadata } = outputOf(ctx, fetchMetadata);
  return { stage: 'unverified', product: metadata.productShortName, kind: metadata.repoKind };
}

async function publishView(ctx: StepContext, repo: RepoRef, includeThis: boolean): Promise<PublishOutput> {
  const { db, config } = ctx.deps;
  return withLocks(db, [lockKeys.repo(repo.stage, repo.product)], async () => {
    const base = db('packages as p').join('releases as r', 'r.id', 'p.release_id')
      .where('r.product_short_name', repo.product).select('p.sha256', 'p.filename');
    const rows = includeThis
      ? await base.andWhere((q) => q.where('r.status', 'Unverified').orWhere('r.id', ctx.releaseId))
      : await base.where('r.status', 'Unverified').whereNot('r.id', ctx.releaseId);
    const r = await publishRepository(repo, rows, { storageDir: config.STORAGE_DIR, publicUrl: config.PUBLIC_URL });
    await ctx.progress({ step: 'publish', repo: r.url, packages: rows.length });
    return { url: r.url, clientFileUrl: r.clientFile.url, version: r.version, durationMs: r.durationMs };
  });
}
