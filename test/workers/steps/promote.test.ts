import { unlink } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DependencyCheck } from '../../../services/deps/check.ts';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import type { Stage } from '../../../services/storage/repo-ref.ts';
import type { RepoStatus } from '../../../services/workflow/transitions.ts';
import { promoteInto, withdrawFromSource } from '../../../workers/steps/promote.ts';
import { publishView } from '../../../workers/steps/views.ts';
import type { TestPackage } from '../../support/packages.ts';
import {
  checkpointed,
  headersOf,
  liveIndex,
  loaded,
  membersOf,
  names,
  PUBLIC_URL,
  seedRelease,
  useStepEnv,
  useTestPackages,
} from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const other = useTestPackages(1, { core: false, fillPrefix: 'other', fillStart: 1 });
const YUM = 'TESTTP.testpkg.el9.noarch';
const APT = 'TESTTP.testpkg.debian12.all';
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs, ...other().rpms, ...other().debs]);
});

const check = (target: Stage, satisfied = true): DependencyCheck => ({ target, satisfied, unmet: [], unchecked: [], baseRepos: [] });

/** A release shown (index and membership) in `stages`, and the context of an action on it started from `fromStatus`. */
async function release(
  ticketId: number,
  pkgs: TestPackage[],
  o: { product?: string; stages?: Stage[]; fromStatus?: RepoStatus; satisfied?: boolean } = {},
) {
  const product = o.product ?? YUM;
  const kind = pkgs[0]!.filename.endsWith('.deb') ? 'apt' : 'yum';
  const id = await seedRelease(env, { ticketId, product, pkgs, headers, status: 'Processing' });
  for (const stage of o.stages ?? []) await publishView(env.ctx(id), stage, product, kind, { include: id });
  const outputs = checkpointed({
    'load-release': loaded(product, pkgs),
    'check-dependencies-stage-rollout': check('stage-rollout', o.satisfied),
    'check-dependencies-production': check('production', o.satisfied),
  });
  return { id, ctx: env.ctx(id, { ticketId, fromStatus: o.fromStatus ?? 'Unverified', outputs }) };
}

const index = (stage: Stage, product = YUM, kind: 'yum' | 'apt' = 'yum') => liveIndex(env.config, stage, product, kind);

describe('promoteInto and withdrawFromSource: Unverified -> Stage-Rollout', () => {
  it('puts the release into the target index next to what it shows, then takes it out of the source', async () => {
    const shown = await release(2, other().rpms, { stages: ['stage-rollout'] });
    const { id, ctx } = await release(7, pk().rpms, { stages: ['unverified'] });
    const promote = promoteInto('stage-rollout');
    expect(promote.id).toBe('promote-stage-rollout');
    const out = await promote.run(ctx);
    expect(out).toMatchObject({
      url: `${PUBLIC_URL}/repos/stage-rollout/${YUM}/`,
      clientFileUrl: `${PUBLIC_URL}/repos/stage-rollout/${YUM}/${YUM}.repo`,
      version: 2,
    });
    expect(await index('stage-rollout')).toEqual(names([...pk().rpms, ...other().rpms]));
    expect(await membersOf(env.db, 'stage-rollout')).toEqual([shown.id, id]);
    // still in Unverified until the next step
    expect(await index('unverified')).toEqual(names(pk().rpms));

    expect(await withdrawFromSource.run(ctx)).toEqual({
      stage: 'unverified',
      url: `${PUBLIC_URL}/repos/unverified/${YUM}/`,
      dist: `${PUBLIC_URL}/repos/dist/yum/el9/noarch/unverified/`,
    });
    expect(await index('unverified')).toEqual([]);
    expect(await membersOf(env.db, 'unverified')).toEqual([]);
  });

  it('undo, newest first, puts the release back into the source and out of the target', async () => {
    const shown = await release(2, other().rpms, { stages: ['stage-rollout'] });
    const { id, ctx } = await release(7, pk().rpms, { stages: ['unverified'] });
    const promote = promoteInto('stage-rollout');
    const promoted = checkpointed(await promote.run(ctx));
    const withdrawn = checkpointed(await withdrawFromSource.run(ctx));
    await withdrawFromSource.undo!(ctx, withdrawn);
    expect(await index('unverified')).toEqual(names(pk().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([id]);
    await promote.undo!(ctx, promoted);
    expect(await index('stage-rollout')).toEqual(names(other().rpms));
    expect(await membersOf(env.db, 'stage-rollout')).toEqual([shown.id]);
  });

  it('promotes an APT release the same way', async () => {
    const { ctx } = await release(7, pk().debs, { product: APT, stages: ['unverified'] });
    const promote = promoteInto('stage-rollout');
    const out = checkpointed(await promote.run(ctx));
    expect(await index('stage-rollout', APT, 'apt')).toEqual(names(pk().debs));
    await promote.undo!(ctx, out);
    expect(await index('stage-rollout', APT, 'apt')).toEqual([]);
  });
});

describe('a release that must wait (requirements unmet in the target)', () => {
  it('is not put into the target (null, nothing built), but still leaves its source: it becomes Incomplete', async () => {
    const { ctx } = await release(7, pk().rpms, { stages: ['unverified'], satisfied: false });
    const promote = promoteInto('stage-rollout');
    expect(await promote.run(ctx)).toBeNull();
    expect(await index('stage-rollout')).toBeNull();
    expect(await membersOf(env.db, 'stage-rollout')).toEqual([]);
    await promote.undo!(ctx, null); // nothing to take back
    expect(await index('stage-rollout')).toBeNull();
    expect((await withdrawFromSource.run(ctx)).stage).toBe('unverified');
    expect(await index('unverified')).toEqual([]);
  });
});

describe('Production', () => {
  it('from Stage-Rollout: in Production, out of Stage-Rollout; undo restores both', async () => {
    const { id, ctx } = await release(7, pk().rpms, { stages: ['stage-rollout'], fromStatus: 'StageRollOut' });
    const promote = promoteInto('production');
    const promoted = checkpointed(await promote.run(ctx));
    const withdrawn = checkpointed(await withdrawFromSource.run(ctx));
    expect(withdrawn.stage).toBe('stage-rollout');
    expect([await index('production'), await index('stage-rollout')]).toEqual([names(pk().rpms), []]);
    await withdrawFromSource.undo!(ctx, withdrawn);
    await promote.undo!(ctx, promoted);
    expect([await index('production'), await index('stage-rollout')]).toEqual([[], names(pk().rpms)]);
    expect([await membersOf(env.db, 'production'), await membersOf(env.db, 'stage-rollout')]).toEqual([[], [id]]);
  });

  it('restoring a Deprecated release: no source to leave, nothing to put back on undo', async () => {
    const { ctx } = await release(7, pk().rpms, { fromStatus: 'Deprecated' });
    const withdrawn = await withdrawFromSource.run(ctx);
    expect(withdrawn).toEqual({ stage: null, url: null });
    for (const stage of ['unverified', 'stage-rollout', 'production'] as const) expect(await index(stage)).toBeNull();
    await withdrawFromSource.undo!(ctx, withdrawn);
    expect(await env.db('stage_members').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('Deprecate takes the release out of Production and leaves the other revisions; undo puts it back', async () => {
    const older = await release(2, other().rpms, { stages: ['production'] });
    const { id, ctx } = await release(7, pk().rpms, { stages: ['production'], fromStatus: 'Production' });
    const out = checkpointed(await withdrawFromSource.run(ctx));
    expect(out).toEqual({
      stage: 'production',
      url: `${PUBLIC_URL}/repos/production/${YUM}/`,
      dist: `${PUBLIC_URL}/repos/dist/yum/el9/noarch/production/`,
    });
    expect(await index('production')).toEqual(names(other().rpms));
    await withdrawFromSource.undo!(ctx, out);
    expect(await index('production')).toEqual(names([...pk().rpms, ...other().rpms]));
    expect(await membersOf(env.db, 'production')).toEqual([older.id, id]);
  });

  it('a promotion that cannot build the index leaves the target as it was', async () => {
    const shown = await release(2, other().rpms, { stages: ['production'] });
    const { ctx } = await release(7, pk().rpms, { stages: ['stage-rollout'], fromStatus: 'StageRollOut' });
    await unlink(env.blobs.path(pk().rpms[0]!.sha256));
    await expect(promoteInto('production').run(ctx)).rejects.toMatchObject({ name: 'RdError' });
    expect(await index('production')).toEqual(names(other().rpms));
    expect(await membersOf(env.db, 'production')).toEqual([shown.id]);
  });
});
