import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { createLogger } from '../../../services/log.ts';
import { createMetrics } from '../../../services/metrics.ts';
import { allocateRevision } from '../../../workers/steps/allocate-revision.ts';
import { loadRelease } from '../../../workers/steps/load-release.ts';
import { checkTarget } from '../../../workers/steps/dependencies.ts';
import type { StepContext } from '../../../workers/engine/step.ts';
import { useTestDb } from '../../support/db.ts';
import { Timings } from '../../../workers/engine/timings.ts';

const t = useTestDb();
const config = loadConfig({ RT_TOKEN: 'x'.repeat(20), WEBHOOK_SECRET: 'y'.repeat(20), DEPRECATED_RETENTION_DAYS: '30' });

function ctx(releaseId: number, loaded: Partial<ReturnType<typeof base>> = {}): StepContext {
  return {
    deps: { db: t.db, rt: undefined as never, config, metrics: createMetrics(), signer: undefined as never },
    log: createLogger('silent'),
    ticketId: releaseId,
    inboxId: releaseId,
    transactionId: releaseId,
    actor: 'rollout1',
    history: { changes: [], notesOf: () => [], newest: 0 },
    releaseId,
    fromStatus: 'StageRollOut',
    workDir: '/nonexistent',
    outputs: { [loadRelease.id]: { ...base(), ...loaded }, [checkTarget('production').id]: { satisfied: true } },
    timings: new Timings(),
    progress: async () => undefined,
  };
}
const base = () => ({
  product: 'P.x',
  productName: 'x',
  version: '1',
  kind: 'yum',
  revision: null as number | null,
  deprecatedAt: null as string | null,
  packages: [],
});

const release = async (ticket: number, over: Record<string, unknown> = {}) =>
  (
    await t
      .db('releases')
      .insert({ ticket_id: ticket, product_short_name: 'P.x', ...over })
      .returning('id')
  )[0].id as number;

describe('allocate-revision', () => {
  it('hands out 1..N exactly once to N parallel publications of one product, and writes each to its release', async () => {
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => release(i + 1)));
    const got = (await Promise.all(ids.map((id) => allocateRevision.run(ctx(id))))).map((r) => r.revision!).sort((a, b) => a - b);
    expect(got).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await t.db('releases').whereIn('id', ids).pluck('revision')).sort((a: number, b: number) => a - b)).toEqual(got);
    // another product counts on its own
    const q = await release(99, { product_short_name: 'Q.y' });
    expect(
      await allocateRevision.run({ ...ctx(q), outputs: { ...ctx(q).outputs, [loadRelease.id]: { ...base(), product: 'Q.y' } } }),
    ).toEqual({ revision: 1, restored: false });
  });

  it('a rerun after a kill before the checkpoint keeps the number; a failure burns it', async () => {
    const id = await release(1);
    expect(await allocateRevision.run(ctx(id))).toEqual({ revision: 1, restored: false });
    expect(await allocateRevision.run(ctx(id))).toEqual({ revision: 1, restored: false }); // the rerun
    expect(await t.db('product_revisions').where({ product_short_name: 'P.x' }).first()).toMatchObject({ last: 1 });
    await allocateRevision.undo!(ctx(id), { revision: 1, restored: false });
    expect(await allocateRevision.run(ctx(id))).toEqual({ revision: 2, restored: false });
  });

  it('never reuses a number: the database refuses two releases with one revision of a product', async () => {
    await t.db('releases').insert({ ticket_id: 1, product_short_name: 'P.x', revision: 3 });
    await expect(t.db('releases').insert({ ticket_id: 2, product_short_name: 'P.x', revision: 3 })).rejects.toThrow(
      /releases_product_revision/,
    );
  });

  it('keeps the revision of a restored release, within the retention only; undo leaves it', async () => {
    const recent = await release(1, { revision: 4, deprecated_at: new Date(Date.now() - 5 * 86_400_000) });
    expect(await allocateRevision.run(ctx(recent))).toEqual({ revision: 4, restored: true });
    await allocateRevision.undo!(ctx(recent), { revision: 4, restored: true });
    expect(await t.db('releases').where({ id: recent }).first()).toMatchObject({ revision: 4 });
    const old = await release(2, { revision: 5, deprecated_at: new Date(Date.now() - 31 * 86_400_000) });
    await expect(allocateRevision.run(ctx(old))).rejects.toMatchObject({ code: 'RD_RETENTION_EXPIRED' });
  });
});
