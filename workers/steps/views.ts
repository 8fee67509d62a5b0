import { lockKeys, withLocks } from '../../services/locks.ts';
import { publishRepository } from '../../services/storage/publish.ts';
import type { RepoKind, Stage } from '../../services/storage/repo-ref.ts';
import { STATUS_OF_STAGE } from '../../services/workflow/transitions.ts';
import type { StepContext } from './types.ts';

export interface PublishOutput { url: string; clientFileUrl: string; version: number; durationMs: number }

export interface ViewChange {
  /** show this release too (it is still Processing while its action runs) */
  include?: number;
  /** leave this release out although its status belongs to the stage */
  exclude?: number;
  /** a stage whose index already has these packages' checksums (promotion reads no package) */
  reuseFrom?: Stage;
}

/**
 * Rebuilds one stage's repository of a product from the database, under the repository lock, so two
 * tickets of one product never interleave their builds. Idempotent: the same rows give the same index.
 */
export async function publishView(ctx: StepContext, stage: Stage, product: string, kind: RepoKind, change: ViewChange): Promise<PublishOutput> {
  const { db, config } = ctx.deps;
  return withLocks(db, [lockKeys.repo(stage, product)], async () => {
    const rows = await db('packages as p').join('releases as r', 'r.id', 'p.release_id')
      .where('r.product_short_name', product)
      .andWhere((q) => {
        q.where((w) => {
          w.where('r.status', STATUS_OF_STAGE[stage]);
          if (change.exclude !== undefined) w.whereNot('r.id', change.exclude);
        });
        if (change.include !== undefined) q.orWhere('r.id', change.include);
      })
      .orderBy(['r.id', 'p.filename'])
      .select('p.sha256', 'p.filename');
    const r = await publishRepository({ stage, product, kind }, rows, {
      storageDir: config.STORAGE_DIR, publicUrl: config.PUBLIC_URL,
      reuseFrom: change.reuseFrom ? [{ stage: change.reuseFrom, product, kind }] : undefined,
    });
    await ctx.progress({ step: 'publish', repo: r.url, packages: rows.length });
    return { url: r.url, clientFileUrl: r.clientFile.url, version: r.version, durationMs: r.durationMs };
  });
}
