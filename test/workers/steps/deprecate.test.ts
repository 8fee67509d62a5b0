import { describe, expect, it } from 'vitest';
import type { RepoStatus } from '../../../services/workflow/transitions.ts';
import { findSuccessor } from '../../../workers/steps/deprecate.ts';
import { useStepEnv } from '../../support/step-context.ts';

const env = useStepEnv();
const P = 'TESTTP.testpkg.el9.noarch';

const release = async (ticket: number, revision: number | null, status: RepoStatus = 'Production', product = P) =>
  (await env.db('releases').insert({ ticket_id: ticket, product_short_name: product, status, revision }).returning('id'))[0].id as number;

/** findSuccessor for the release of revision `revision`, as load-release gave it. */
async function successorOf(id: number, revision: number | null) {
  const loaded = { product: P, productName: P, version: '1.0.0', kind: 'yum', revision, deprecatedAt: null, packages: [] };
  return findSuccessor.run(env.ctx(id, { fromStatus: 'Production', outputs: { 'load-release': loaded } }));
}

describe('find-successor', () => {
  it('names the newest older revision in Production as the fallback, and the oldest newer one', async () => {
    for (const [t, v] of [
      [1, 1],
      [2, 2],
      [4, 4],
      [5, 6],
    ] as const)
      await release(t, v);
    const id = await release(3, 3, 'Processing');
    expect(await successorOf(id, 3)).toEqual({ fallback: 2, newer: 4 });
  });

  it('null when there is none, on either side', async () => {
    const only = await release(1, 1, 'Processing');
    expect(await successorOf(only, 1)).toEqual({ fallback: null, newer: null });
    await release(2, 2);
    expect(await successorOf(only, 1)).toEqual({ fallback: null, newer: 2 });
  });

  it('counts only revisions of the product that are in Production', async () => {
    await release(1, 1, 'Deprecated');
    await release(2, 2, 'Production', 'TESTTP.other.el9.noarch');
    await release(3, null, 'StageRollOut');
    await release(4, 4, 'Processing'); // being deprecated or restored itself
    const id = await release(5, 5, 'Processing');
    expect(await successorOf(id, 5)).toEqual({ fallback: null, newer: null });
  });

  it('has nothing to undo: it reads only', async () => {
    await release(1, 1);
    const id = await release(2, 2, 'Processing');
    const before = await env.db('releases').orderBy('id');
    await successorOf(id, 2);
    expect(findSuccessor.undo).toBeUndefined();
    expect(await env.db('releases').orderBy('id')).toEqual(before);
  });
});
