import { lockKeys, withLocks } from '../../services/locks.ts';
import { publishRepository } from '../../services/storage/publish.ts';
import type { RepoKind, Stage } from '../../services/storage/repo-ref.ts';
import type { StepContext } from '../engine/step.ts';

export interface PublishOutput { url: string; clientFileUrl: string; version: number; durationMs: number }

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
export async function publishView(ctx: StepContext, stage: Stage, product: string, kind: RepoKind, change: ViewChange): Promise<PublishOutput> {
  const { db, config } = ctx.deps;
  return withLocks(db, [lockKeys.repo(stage, product)], async () => {
    const shown = db('stage_members as m').join('releases as r', 'r.id', 'm.release_id')
      .where({ 'm.stage': stage, 'r.product_short_name': product }).select('r.id');
    const rows = await db('packages as p')
      .where((q) => {
        q.whereIn('p.release_id', shown);
        if (change.include !== undefined) q.orWhere('p.release_id', change.include);
      })
      .modify((q) => { if (change.exclude !== undefined) q.whereNot('p.release_id', change.exclude); })
      .orderBy(['p.release_id', 'p.filename'])
      .select('p.sha256', 'p.filename');
    const r = await publishRepository({ stage, product, kind }, rows, {
      storageDir: config.STORAGE_DIR, publicUrl: config.PUBLIC_URL,
      reuseFrom: change.reuseFrom ? [{ stage: change.reuseFrom, product, kind }] : undefined,
    });
    if (change.include !== undefined) await db('stage_members').insert({ release_id: change.include, stage }).onConflict(['release_id', 'stage']).ignore();
    if (change.exclude !== undefined) await db('stage_members').where({ release_id: change.exclude, stage }).delete();
    await ctx.progress({ step: 'publish', repo: r.url, packages: rows.length });
    return { url: r.url, clientFileUrl: r.clientFile.url, version: r.version, durationMs: r.durationMs };
  });
}
