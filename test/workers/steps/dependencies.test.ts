import { useTestSigner } from '../../support/signer.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCheck } from '../../../services/deps/check.ts';
import type { BaseRepo } from '../../../services/deps/base-repos.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { publishRepository } from '../../../services/storage/publish.ts';
import type { StepContext } from '../../../workers/engine/step.ts';
import { checkTarget, planPromotion } from '../../../workers/steps/dependencies.ts';
import { fails } from '../../support/errors.ts';
import { adoptTestPackages } from '../../support/packages.ts';
import { serveDirectory, type StaticServer } from '../../support/repo-clients.ts';
import { headersOf, seedRelease, useStepEnv, useTestPackages } from '../../support/step-context.ts';

const env = useStepEnv();
const signing = useTestSigner();
const pk = useTestPackages();
const YUM = 'TESTTP.testpkg.el9.noarch';
const APT = 'TESTTP.testpkg.debian12.all';
let headers: Record<string, PackageHeader>;
const rpm = (name: string) => pk().rpm(name);
const deb = (name: string) => pk().deb(name);

// a base repository (the OS) on loopback that provides testpkg
let baseRoot: string;
let base: StaticServer;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs]);
  baseRoot = await mkdtemp(join(tmpdir(), 'rd-base-'));
  const store = new BlobStore(baseRoot);
  await store.init();
  await publishRepository({ stage: 'production', product: 'OS', kind: 'yum' }, await adoptTestPackages(store, [rpm('testpkg')]), {
    storageDir: baseRoot,
    publicUrl: 'http://x',
    signer: signing.signer,
  });
  base = await serveDirectory(join(baseRoot, 'repos'));
});
afterAll(async () => {
  await base?.close();
  if (baseRoot) await rm(baseRoot, { recursive: true, force: true });
});

const withBase = (ctx: StepContext, repos: BaseRepo[]): StepContext => ({
  ...ctx,
  deps: { ...ctx.deps, config: { ...ctx.deps.config, BASE_REPOS: repos } },
});

describe('checkTarget', () => {
  it('is unmet when the target shows nothing that provides what the release needs, and names it', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers, stages: ['unverified'] });
    const step = checkTarget('stage-rollout');
    expect(step.id).toBe('check-dependencies-stage-rollout');
    const out = await step.run(env.ctx(id));
    expect(out).toEqual({
      target: 'stage-rollout',
      satisfied: false,
      baseRepos: [],
      unchecked: [],
      unmet: [{ package: 'testpkg-dep-1.0.0-1.noarch.rpm', requirement: 'testpkg = 1.0.0-1' }],
    });
    expect(describeCheck(out)).toBe('stage-rollout: 1 requirement(s) missing:\n  testpkg-dep-1.0.0-1.noarch.rpm needs testpkg = 1.0.0-1');
  });

  it("is met by what the target's distribution shows, of any product; not by a release shown elsewhere or on another platform", async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers, stages: ['unverified'] });
    await seedRelease(env, { ticketId: 2, product: YUM, pkgs: [rpm('testpkg')], headers, stages: ['unverified'] });
    const el8 = await seedRelease(env, {
      ticketId: 3,
      product: 'TESTTP.other.el8',
      pkgs: [rpm('testpkg')],
      headers,
      stages: ['stage-rollout'],
    });
    await env.db('releases').where({ id: el8 }).update({ platform: 'el8' });
    expect((await checkTarget('stage-rollout').run(env.ctx(id))).satisfied).toBe(false);
    await seedRelease(env, { ticketId: 4, product: 'TESTTP.other.el9.noarch', pkgs: [rpm('testpkg')], headers, stages: ['stage-rollout'] });
    expect(await checkTarget('stage-rollout').run(env.ctx(id))).toMatchObject({ satisfied: true, unmet: [] });
    expect((await checkTarget('production').run(env.ctx(id))).satisfied).toBe(false);
  });

  it('is met by the release itself and by BASE_PROVIDES', async () => {
    const own = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg'), rpm('testpkg-dep')], headers });
    expect((await checkTarget('production').run(env.ctx(own))).satisfied).toBe(true);
    const alone = await seedRelease(env, { ticketId: 8, product: APT, pkgs: [deb('testpkg-dep')], headers });
    expect((await checkTarget('production').run(env.ctx(alone))).unmet).toEqual([
      { package: 'testpkg-dep_1.0.0-1_all.deb', requirement: 'testpkg (= 1.0.0-1)' },
    ]);
    const ctx = env.ctx(alone);
    ctx.deps.config = { ...ctx.deps.config, BASE_PROVIDES: ['testpkg (= 1.0.0-1)'] };
    expect((await checkTarget('production').run(ctx)).satisfied).toBe(true);
  });

  it("is met by a base repository of the release's platform (read over HTTP)", async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers });
    const url = `${base.url}/repos/production/OS/`;
    expect(await checkTarget('production').run(withBase(env.ctx(id), [{ platform: 'el9', kind: 'yum', url }]))).toMatchObject({
      satisfied: true,
      baseRepos: [url],
    });
    // another platform's base does not count
    expect((await checkTarget('production').run(withBase(env.ctx(id), [{ platform: 'el8', kind: 'yum', url }]))).satisfied).toBe(false);
  });

  it('RD_BASE_REPO_UNAVAILABLE (transient, retried) when a base repository was never read, rather than unmet', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers });
    const url = `${base.url}/repos/production/NOSUCH-${Date.now()}/`;
    const e = await fails(
      checkTarget('production').run(withBase(env.ctx(id), [{ platform: '*', kind: 'yum', url }])),
      'RD_BASE_REPO_UNAVAILABLE',
    );
    expect(e.permanent).toBe(false);
  });

  it('never-satisfiable requirements stay unmet whatever the target shows', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-broken')], headers });
    await seedRelease(env, { ticketId: 2, product: YUM, pkgs: [rpm('testpkg')], headers, stages: ['production'] });
    expect((await checkTarget('production').run(env.ctx(id))).unmet).toEqual([
      { package: 'testpkg-broken-1.0.0-1.noarch.rpm', requirement: 'testpkg-missing-capability >= 99' },
    ]);
  });

  it('has nothing to undo: it reads only', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers });
    await checkTarget('production').run(env.ctx(id));
    expect(checkTarget('production').undo).toBeUndefined();
    expect(await env.db('stage_members').count('* as n')).toEqual([{ n: 0 }]);
  });
});

describe('planPromotion', () => {
  it('checks every stage a release can wait to enter, in order', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: [rpm('testpkg-dep')], headers, stages: ['unverified'] });
    await seedRelease(env, { ticketId: 2, product: YUM, pkgs: [rpm('testpkg')], headers, stages: ['stage-rollout'] });
    const out = await planPromotion.run(env.ctx(id));
    expect(out.map((c) => [c.target, c.satisfied])).toEqual([
      ['stage-rollout', true],
      ['production', false],
    ]);
    expect(planPromotion.id).toBe('plan-promotion');
    expect(planPromotion.undo).toBeUndefined();
  });
});
