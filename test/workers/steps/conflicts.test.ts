import { beforeAll, describe, expect, it } from 'vitest';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { checkConflicts } from '../../../workers/steps/conflicts.ts';
import { fails } from '../../support/errors.ts';
import { headersOf, seedRelease, useStepEnv, useTestPackages } from '../../support/step-context.ts';

// Two products shipping one package name, version and arch with different bytes into one distribution.
const env = useStepEnv();
const pk = useTestPackages();
const other = useTestPackages(3, { payloadKb: 3 }); // same names and versions, other bytes
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = { ...(await headersOf(pk().rpms)), ...(await headersOf(other().rpms)) };
});

const seed = (ticketId: number, product: string, which: 'first' | 'second', stages: Array<'unverified' | 'stage-rollout'> = []) =>
  seedRelease(env, { ticketId, product, pkgs: [(which === 'first' ? pk() : other()).rpm('testpkg')], headers, stages });

describe('checkConflicts', () => {
  it('refuses a package the distribution has from another ticket with other bytes: RD_PACKAGE_CONFLICT naming both', async () => {
    expect(other().rpm('testpkg').filename).toBe(pk().rpm('testpkg').filename);
    expect(other().rpm('testpkg').sha256).not.toBe(pk().rpm('testpkg').sha256);
    await seed(11, 'TP.first.el9', 'first', ['stage-rollout']);
    const second = await seed(12, 'TP.second.el9', 'second', ['unverified']);
    const e = await fails(checkConflicts('stage-rollout').run(env.ctx(second, { ticketId: 12 })), 'RD_PACKAGE_CONFLICT');
    expect(e.permanent).toBe(true);
    expect(e.message).toContain('ticket #12 conflicts with ticket #11 in the Stage-Rollout distribution');
    expect(e.message).toContain(`testpkg-1.0.0-1.noarch.rpm: testpkg 1.0.0-1 (noarch) is in Stage-Rollout already from ticket #11`);
    expect(e.message).toContain(pk().rpm('testpkg').sha256.slice(0, 12));
    expect(e.message).toContain(other().rpm('testpkg').sha256.slice(0, 12));
  });

  it('lets the same bytes in, and the same name into another stage or platform', async () => {
    await seed(11, 'TP.first.el9', 'first', ['stage-rollout']);
    const same = await seed(13, 'TP.same.el9', 'first');
    expect(await checkConflicts('stage-rollout').run(env.ctx(same))).toEqual({ stage: 'stage-rollout' });
    const second = await seed(12, 'TP.second.el9', 'second');
    expect(await checkConflicts('production').run(env.ctx(second))).toEqual({ stage: 'production' });
    await env.db('releases').where({ id: second }).update({ platform: 'el8' });
    expect(await checkConflicts('stage-rollout').run(env.ctx(second))).toEqual({ stage: 'stage-rollout' });
  });

  it('a release never conflicts with itself (a rerun of its own action)', async () => {
    const first = await seed(11, 'TP.first.el9', 'first', ['stage-rollout']);
    expect(await checkConflicts('stage-rollout').run(env.ctx(first))).toEqual({ stage: 'stage-rollout' });
  });
});
