import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { createLogger } from '../../../services/log.ts';
import { createMetrics } from '../../../services/metrics.ts';
import { allocateRevision } from '../../../workers/steps/allocate-revision.ts';
import { loadRelease } from '../../../workers/steps/load-release.ts';
import { checkTarget } from '../../../workers/steps/dependencies.ts';
import type { StepContext } from '../../../workers/steps/types.ts';
import { useTestDb } from '../../support/db.ts';

const t = useTestDb();
const config = loadConfig({ RT_TOKEN: 'x'.repeat(20), WEBHOOK_SECRET: 'y'.repeat(20), DEPRECATED_RETENTION_DAYS: '30' });

function ctx(releaseId: number, loaded: Partial<ReturnType<typeof base>> = {}): StepContext {
  return {
    deps: { db: t.db, rt: undefined as never, config, metrics: createMetrics() }, log: createLogger('silent'),
    ticketId: releaseId, inboxId: releaseId, transactionId: releaseId, actor: 'rollout1', releaseId, fromStatus: 'StageRollOut', workDir: '/nonexistent',
    outputs: { [loadRelease.id]: { ...base(), ...loaded }, [checkTarget('production').id]: { satisfied: true } }, progress: async () => undefined,
  };
}
const base = () => ({ product: 'P.x', productName: 'x', version: '1', kind: 'yum', revision: null as number | null, deprecatedAt: null as string | null, packages: [] });

describe('allocate-revision', () => {
  it('hands out 1..N exactly once to N parallel publications of one product', async () => {
    const runs = Array.from({ length: 25 }, (_, i) => allocateRevision.run(ctx(i + 1)));
    const got = (await Promise.all(runs)).map((r) => r.revision!).sort((a, b) => a - b);
    expect(got).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // another product counts on its own
    expect(await allocateRevision.run({ ...ctx(99), outputs: { ...ctx(99).outputs, [loadRelease.id]: { ...base(), product: 'Q.y' } } })).toEqual({ revision: 1, restored: false });
  });

  it('never reuses a number: the database refuses two releases with one revision of a product', async () => {
    await t.db('releases').insert({ ticket_id: 1, product_short_name: 'P.x', revision: 3 });
    await expect(t.db('releases').insert({ ticket_id: 2, product_short_name: 'P.x', revision: 3 })).rejects.toThrow(/releases_product_revision/);
  });

  it('keeps the revision of a restored release, within the retention only', async () => {
    const recent = new Date(Date.now() - 5 * 86_400_000).toISOString();
    expect(await allocateRevision.run(ctx(1, { revision: 4, deprecatedAt: recent }))).toEqual({ revision: 4, restored: true });
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await expect(allocateRevision.run(ctx(1, { revision: 4, deprecatedAt: old }))).rejects.toMatchObject({ code: 'RD_RETENTION_EXPIRED' });
  });
});
