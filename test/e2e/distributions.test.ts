import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { comments, openTicket, repoStatus, rpmSpec, useE2E, waitForComment, waitForStatus } from '../support/e2e.ts';
import { dnfSite } from '../support/dnf-site.ts';
import { buildTestPackages, type TestPackages } from '../support/packages.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';
import { rtClient } from '../support/rt.ts';

// Distribution repositories through the real RT, worker, createrepo_c and dnf: one repository per stage
// that holds every product of the platform, requirements met across products, a waiting release of one
// product published by itself when another product lands, and a package that two products ship with
// different bytes refused at the gate.
const e = useE2E();
let rebuilt: TestPackages; // the same names and versions, other bytes
beforeAll(async () => {
  rebuilt = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs-other-')), 3, { payloadKb: 2 });
  for (const p of rebuilt.rpms) e.provider.file(`/other/${p.filename}`, await readFile(p.path));
}, 120_000);

const tug1 = () => rtClient('tug1');
const dist = (stage: string) => `${e.svc.url}/repos/dist/yum/el9/noarch/${stage}/`;
const repo = (stage: string, product: string) => `${e.svc.url}/repos/${stage}/${product}/`;

async function act(who: ReturnType<typeof rtClient>, t: number, action: string, want: string) {
  await who.setCustomFields(t, { RepoAction: action });
  expect(await waitForStatus(e, t, [want, 'Failed'], 60_000)).toBe(want);
}

describe('distribution repositories', () => {
  it('a release needing another product waits, is published by itself when that product lands, and dnf resolves it from the distribution', async () => {
    const app = `TESTTP.app.${e.run}`;
    const lib = `TESTTP.lib.${e.run}`;
    const needy = await openTicket(e, releaseXml({ product: app, packages: [rpmSpec(e, 'testpkg-dep')] }), 'app needs lib');
    await act(e.prov, needy, 'MoveToUnverified', 'Unverified');
    const c = await waitForComment(e, needy, /Unverified repository/);
    expect(c).toContain(`Distribution (every product of this stage and platform): ${dist('unverified')}`);
    expect(c).toContain(`Distribution client file: ${dist('unverified')}releasedesk-el9-noarch-unverified.repo`);
    await act(tug1(), needy, 'MoveToStageRollOut', 'Incomplete');

    const provider = await openTicket(e, releaseXml({ product: lib, packages: [rpmSpec(e, 'testpkg')] }), 'lib');
    await act(e.prov, provider, 'MoveToUnverified', 'Unverified');
    await act(tug1(), provider, 'MoveToStageRollOut', 'StageRollOut');
    // nobody touches the waiting ticket of the other product: it moves by itself
    expect(await waitForStatus(e, needy, ['StageRollOut'], 60_000)).toBe('StageRollOut');

    const fromDist = await checkYumRepo(dist('stage-rollout'), 'testpkg-dep', { RESOLVE: '1' });
    expect(fromDist.code, fromDist.output).toBe(0);
    // the product's own repository alone cannot satisfy it: that is what the distribution is for
    expect((await checkYumRepo(repo('stage-rollout', app), 'testpkg-dep', { RESOLVE: '1' })).code).toBe(5);
    const fileText = await (await fetch(`${dist('stage-rollout')}releasedesk-el9-noarch-stage-rollout.repo`)).text();
    expect(fileText).toContain('repo_gpgcheck=1');
    expect((await checkYumRepo(dist('unverified'), 'testpkg')).code).toBe(4); // both left Unverified

    // in Production, the distribution carries the release's advisory, as a site's dnf shows it
    await act(rtClient('rollout1'), provider, 'MoveToProduction', 'Production');
    const site = await dnfSite(dist('production'), `${e.svc.url}/keys/releasedesk.asc`);
    try {
      const id = `RD-2026-${provider}`;
      const install = await site.dnf('install', 'testpkg');
      expect(install.code, install.output).toBe(0);
      // --all (list and info): the host has this very version, so the advisory is about an installed package,
      // not an available update, which is all dnf shows by default
      const list = await site.dnf('updateinfo', 'list', '--all');
      expect(list.output).toMatch(new RegExp(`${id}\\s+enhancement\\s+testpkg-1\\.0\\.0-1\\.noarch`));
      const info = await site.dnf('updateinfo', 'info', '--all', id);
      expect(info.code, info.output).toBe(0);
      expect(info.output).toContain(`${lib} 1.0.0`);
      expect(info.output).toContain('notes');
      expect(info.output).toContain('- first');
      expect(info.output).toContain(`Release ticket: #${provider}`);
    } finally {
      await site.close();
    }
  }, 240_000);

  it('the same name, version and arch with other bytes is refused at the gate, naming both tickets; the same bytes are fine', async () => {
    const first = await openTicket(e, releaseXml({ product: `TESTTP.one.${e.run}`, packages: [rpmSpec(e, 'testpkg-broken')] }), 'one');
    await act(e.prov, first, 'MoveToUnverified', 'Unverified');
    const same = await openTicket(e, releaseXml({ product: `TESTTP.same.${e.run}`, packages: [rpmSpec(e, 'testpkg-broken')] }), 'same');
    await act(e.prov, same, 'MoveToUnverified', 'Unverified');

    const p = rebuilt.rpm('testpkg-broken');
    const spec = rpmSpec(e, 'testpkg-broken', { url: `${e.provider.url}/other/${p.filename}`, sha256: p.sha256 });
    const clash = await openTicket(e, releaseXml({ product: `TESTTP.clash.${e.run}`, packages: [spec] }), 'clash');
    await e.prov.setCustomFields(clash, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, clash, ['Failed', 'Unverified'], 60_000)).toBe('Failed');
    const refusal = await waitForComment(e, clash, /RD_PACKAGE_CONFLICT/);
    expect(refusal).toContain(`conflicts with ticket #${first}, #${same} in the Unverified distribution`);
    expect(refusal).toContain(`${p.filename}: testpkg-broken 1.0.0-1 (noarch) is in Unverified already from ticket #${first}`);
    expect(refusal).toMatch(/What to do: .*new version or release/);
    // nothing of it was published; the others are untouched
    expect((await checkYumRepo(repo('unverified', `TESTTP.clash.${e.run}`), 'testpkg-broken')).code).not.toBe(0);
    expect(await repoStatus(e, first)).toBe('Unverified');
    expect((await comments(e, clash)).filter((x) => /RD_PACKAGE_CONFLICT/.test(x))).toHaveLength(1);
  }, 180_000);
});
