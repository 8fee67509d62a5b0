import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestPackages, type TestPackages } from '../support/packages.ts';
import { comments, openTicket, repoStatus, rpmSpec, useE2E, waitForComment, waitForStatus } from '../support/e2e.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';
import { rtClient } from '../support/rt.ts';
import { run as releasedesk } from '../../services/cli/main.ts';

const e = useE2E();
let v2: TestPackages;
beforeAll(async () => {
  v2 = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs2-')), 3, { version: '2.0.0' });
  for (const p of v2.rpms) e.provider.file(`/v2/${p.filename}`, await readFile(p.path));
}, 120_000);

const tug1 = () => rtClient('tug1');
const rollout1 = () => rtClient('rollout1');
const repo = (stage: string, product: string) => `${e.svc.url}/repos/${stage}/${product}/`;
const sees = async (stage: string, product: string, pkg: string) => (await checkYumRepo(repo(stage, product), pkg)).code;

/** Names of the RT groups that are AdminCc of the ticket, once `want` is among them (the notice is delivered after the status). */
async function watchingGroups(t: number, want: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await e.rt.session.request<{ AdminCc?: { type: string; id: string }[] }>({ method: 'GET', path: `/ticket/${t}` });
    const names = await Promise.all(
      (res.data.AdminCc ?? [])
        .filter((m) => m.type === 'group')
        .map(async (m) => (await e.rt.session.request<{ Name: string }>({ method: 'GET', path: `/group/${m.id}` })).data.Name),
    );
    if (names.includes(want) || Date.now() > deadline) return names.sort();
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function act(who: ReturnType<typeof rtClient>, t: number, action: string, want: string) {
  await who.setCustomFields(t, { RepoAction: action });
  expect(await waitForStatus(e, t, [want, 'Failed'], 60_000), `${action} on ${t}`).toBe(want);
}

describe('the whole lifecycle on real RT, dnf and repositories', () => {
  it('provider -> technology unit -> rollout coordinator, v1 and v2, deprecate and restore', async () => {
    const product = `TESTTP.life.${e.run}`;
    const a = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] }), 'lifecycle v1');
    await act(e.prov, a, 'MoveToUnverified', 'Unverified');
    // the hand-offs: the group whose turn it is watches the ticket
    expect(await watchingGroups(a, 'TechnologyUnit')).toEqual(['TechnologyUnit']);
    await act(tug1(), a, 'MoveToStageRollOut', 'StageRollOut');
    expect(await watchingGroups(a, 'RolloutCoordinators')).toEqual(['RolloutCoordinators', 'TechnologyUnit']);
    expect((await e.rt.getTicket(a)).customFields.RepoURI).toEqual([repo('stage-rollout', product)]);
    expect(await sees('stage-rollout', product, 'testpkg')).toBe(0);
    expect(await sees('unverified', product, 'testpkg')).toBe(4); // not visible any more
    await waitForComment(e, a, /Stage-Rollout repository/);

    await act(rollout1(), a, 'MoveToProduction', 'Production');
    expect(await waitForComment(e, a, /in Production as revision v1/)).toBeTruthy();
    expect((await e.rt.getTicket(a)).customFields.RepoURI).toEqual([repo('production', product)]);
    expect(await sees('production', product, 'testpkg-1.0.0')).toBe(0);
    expect(await sees('stage-rollout', product, 'testpkg')).toBe(4);
    // blobs moved by links: the production file is the blob itself
    const rel = await e.svc.db('releases').where({ ticket_id: a }).first();
    expect(rel).toMatchObject({ status: 'Production', revision: 1 });

    // a second release of the product becomes v2
    const p2 = v2.rpm('testpkg');
    const b = await openTicket(
      e,
      releaseXml({
        product,
        version: ['2', '0', '0'],
        packages: [
          {
            filename: p2.filename,
            pkgname: 'testpkg',
            version: '2.0.0',
            release: '1',
            arch: 'noarch',
            url: `${e.provider.url}/v2/${p2.filename}`,
            sha256: p2.sha256,
          },
        ],
      }),
      'lifecycle v2',
    );
    await act(e.prov, b, 'MoveToUnverified', 'Unverified');
    await act(tug1(), b, 'MoveToStageRollOut', 'StageRollOut');
    await act(rollout1(), b, 'MoveToProduction', 'Production');
    await waitForComment(e, b, /in Production as revision v2/);
    expect(await sees('production', product, 'testpkg-2.0.0')).toBe(0);

    // deprecating the newest rolls clients back to v1; the record and blobs stay
    await tug1().comment(b, 'v2 breaks the scheduler on EL9');
    await act(tug1(), b, 'Deprecate', 'Deprecated');
    expect(await waitForComment(e, b, /deprecated/)).toMatch(
      /Clients now get revision v1\.\n\nReason given by tug1:\n> v2 breaks the scheduler on EL9/,
    );
    expect(await sees('production', product, 'testpkg-2.0.0')).toBe(4);
    expect(await sees('production', product, 'testpkg')).toBe(0);
    const dep = await e.svc.db('releases').where({ ticket_id: b }).first();
    expect(dep).toMatchObject({ status: 'Deprecated', revision: 2 });
    expect(dep.tombstone).toMatchObject({ revision: 2, fallback: 1, by: 'tug1', reason: 'v2 breaks the scheduler on EL9' });

    // restore: the same revision comes back
    await act(rollout1(), b, 'MoveToProduction', 'Production');
    await waitForComment(e, b, /revision v2 \(restored/);
    expect(await sees('production', product, 'testpkg-2.0.0')).toBe(0);
    expect(await e.svc.db('product_revisions').where({ product_short_name: product }).first()).toMatchObject({ last: 2 });

    // a published revision is immutable
    await e.prov.setCustomFields(a, { RepoAction: 'Reject' }); // the provider may not, either
    await waitForComment(e, a, /RD_ROLE_FORBIDDEN.*provider1 may not Reject; allowed: group TechnologyUnit/);
    await e.prov.setCustomFields(a, { RepoAction: 'MoveToUnverified' });
    await waitForComment(e, a, /RD_RELEASE_PUBLISHED/);
    expect(await repoStatus(e, a)).toBe('Production');
  }, 300_000);

  it('a rejected release disappears from Unverified; invalid actions leave comments and no change', async () => {
    const product = `TESTTP.reject.${e.run}`;
    const c = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg-dep'), rpmSpec(e, 'testpkg')] }), 'reject');
    await act(e.prov, c, 'MoveToUnverified', 'Unverified');
    expect(await sees('unverified', product, 'testpkg-dep')).toBe(0);

    await rollout1().setCustomFields(c, { RepoAction: 'MoveToStageRollOut' });
    expect(await waitForComment(e, c, /RD_ROLE_FORBIDDEN/)).toContain('rollout1 may not MoveToStageRollOut; allowed: group TechnologyUnit');
    await tug1().setCustomFields(c, { RepoAction: 'Deprecate' });
    expect(await waitForComment(e, c, /RD_ACTION_NOT_ALLOWED/)).toContain('actions valid now: MoveToStageRollOut, Reject');
    expect(await repoStatus(e, c)).toBe('Unverified');

    await tug1().comment(c, 'testpkg-dep pulls in an unsigned library.\nPlease rebuild against libfoo 2.');
    await act(tug1(), c, 'Reject', 'Rejected');
    expect(await waitForComment(e, c, /was rejected/)).toContain(
      'Reason given by tug1:\n> testpkg-dep pulls in an unsigned library.\n> Please rebuild against libfoo 2.',
    );
    expect(await sees('unverified', product, 'testpkg-dep')).toBe(4);
    expect((await e.rt.getTicket(c)).customFields.RepoURI).toEqual([]);
    const tr = await e.svc.db('transitions').where({ ticket_id: c }).orderBy('id');
    expect(tr.map((r) => [r.action, r.outcome, r.to_status])).toEqual([
      ['MoveToUnverified', 'ok', 'Unverified'],
      ['MoveToStageRollOut', 'refused', 'Unverified'],
      ['Deprecate', 'refused', 'Unverified'],
      ['Reject', 'ok', 'Rejected'],
    ]);
    expect((await comments(e, c)).length).toBe(4);
  }, 180_000);

  it("a membership granted a moment ago counts at once: before refusing, the service reads RT's groups again", async () => {
    const root = rtClient('root');
    const groups = await root.session.request<{ items: { id: string }[] }>({
      method: 'GET',
      path: '/groups',
      params: { query: JSON.stringify([{ field: 'Name', value: 'TechnologyUnit' }]) },
    });
    const tu = groups.data.items[0]!.id;
    const member = (await root.getUser('rollout1'))!.id;
    const leave = () => root.session.request({ method: 'DELETE', path: `/group/${tu}/member/${member}` });
    await leave(); // after a run cut off before its clean-up
    try {
      const t = await openTicket(e, releaseXml({ product: `TESTTP.grant.${e.run}`, packages: [rpmSpec(e, 'testpkg')] }), 'granted');
      await act(e.prov, t, 'MoveToUnverified', 'Unverified'); // the service has read the groups: rollout1 is not in TechnologyUnit
      await root.session.request({ method: 'PUT', path: `/group/${tu}/members`, body: [member] });
      await act(rollout1(), t, 'Reject', 'Rejected');
      const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
      expect(tr.map((r) => [r.action, r.outcome, r.actor])).toEqual([
        ['MoveToUnverified', 'ok', 'provider1'],
        ['Reject', 'ok', 'rollout1'],
      ]);
    } finally {
      await leave();
    }
  }, 120_000);

  it("an Incomplete release is published by itself when its dependency's release lands", async () => {
    const product = `TESTTP.deps.${e.run}`;
    const needy = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg-dep')] }), 'needs testpkg');
    await act(e.prov, needy, 'MoveToUnverified', 'Unverified');
    expect(await waitForComment(e, needy, /Unverified repository/)).toMatch(
      /stage-rollout: 1 requirement\(s\) missing:\n\s+testpkg-dep-1\.0\.0-1\.noarch\.rpm needs testpkg = 1\.0\.0-1/,
    );

    await act(tug1(), needy, 'MoveToStageRollOut', 'Incomplete');
    expect(await waitForComment(e, needy, /RD_DEPENDENCIES_UNMET/)).toContain('testpkg-dep-1.0.0-1.noarch.rpm needs testpkg = 1.0.0-1');
    expect(await sees('stage-rollout', product, 'testpkg-dep')).not.toBe(0);
    expect(await sees('unverified', product, 'testpkg-dep')).not.toBe(0);

    // the CLI asks the same question without moving anything: exit 4 while something is missing
    expect(await releasedesk(['--url', e.svc.url, '--json', 'validate', String(needy), '--target', 'stage-rollout'])).toBe(4);

    const provider = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] }), 'provides testpkg');
    await act(e.prov, provider, 'MoveToUnverified', 'Unverified');
    await act(tug1(), provider, 'MoveToStageRollOut', 'StageRollOut');
    // nobody touches the waiting ticket: it moves by itself
    expect(await waitForStatus(e, needy, ['StageRollOut'], 60_000)).toBe('StageRollOut');
    expect((await checkYumRepo(repo('stage-rollout', product), 'testpkg-dep', { RESOLVE: '1' })).ok).toBe(true);
    expect(await releasedesk(['--url', e.svc.url, '--json', 'validate', String(needy), '--target', 'stage-rollout'])).toBe(0);
    const tr = await e.svc.db('transitions').where({ ticket_id: needy }).orderBy('id');
    expect(tr.map((r) => [r.action, r.outcome, r.to_status])).toEqual([
      ['MoveToUnverified', 'ok', 'Unverified'],
      ['MoveToStageRollOut', 'waiting', 'Incomplete'],
      ['MoveToStageRollOut', 'ok', 'StageRollOut'],
    ]);
  }, 180_000);
});
