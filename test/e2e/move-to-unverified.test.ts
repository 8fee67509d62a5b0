import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { sign } from '../../services/api/signature.ts';
import { reconcileOnce } from '../../workers/reconciler.ts';
import { createDb } from '../../services/db/knex.ts';
import { TEST_DATABASE_URL } from '../support/env.ts';
import {
  comments,
  debSpec,
  finalStatuses,
  openTicket,
  repoStatus,
  rpmSpec,
  useE2E,
  waitForComment,
  waitForStatus,
} from '../support/e2e.ts';
import { checkAptRepo, checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';
import { pointWebhookAt, rtClient } from '../support/rt.ts';
import { E2E_SECRET } from '../support/service.ts';

const e = useE2E();

describe('MoveToUnverified from a real RT ticket', () => {
  it('publishes an RPM release that dnf can install from, and writes status, URI and a comment back', async () => {
    const product = `TESTTP.yumtool.${e.run}`;
    const t = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')] }), 'yum release');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');
    const uri = (await e.rt.getTicket(t)).customFields.RepoURI?.[0];
    expect(uri).toBe(`${e.svc.url}/repos/unverified/${product}/`);
    const dnf = await checkYumRepo(uri!, 'testpkg-dep', { RESOLVE: '1' });
    expect(dnf.ok, dnf.output).toBe(true);
    const c = await waitForComment(e, t, /Unverified repository/);
    expect(c).toContain(e.pkgs.rpm('testpkg').sha256);
    expect(c).toContain(`${uri}${product}.repo`);
    expect(c).toMatch(/Time taken: \d/);
    // RT saw Unverified once (after its Processing, or with it when the outbox was behind), each write-back once
    expect(await finalStatuses(e, t)).toEqual(['Unverified']);
    expect((await comments(e, t)).filter((x) => /Unverified repository/.test(x))).toHaveLength(1);
    const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
    expect(tr.map((r) => [r.action, r.actor, r.from_status, r.to_status, r.outcome])).toEqual([
      ['MoveToUnverified', 'provider1', 'New', 'Unverified', 'ok'],
    ]);
    expect(tr[0].duration_ms).toBeGreaterThan(0);
  });

  it('publishes a DEB release from a tar.gz bundle that apt can read, reporting extra files', async () => {
    const product = `TESTTP.apttool.${e.run}`;
    const bundle = await readFile(e.pkgs.bundle);
    e.provider.file('/bundle.tar.gz', bundle);
    const xml = releaseXml({
      product,
      arch: 'all',
      protocol: 'apt',
      synchURL: `${e.provider.url}/bundle.tar.gz`,
      synchSha256: createHash('sha256').update(bundle).digest('hex'),
      packages: [debSpec(e, 'testpkg', { url: undefined }), debSpec(e, 'testpkg-dep', { url: undefined })],
    });
    const t = await openTicket(e, xml, 'apt release');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');
    const uri = (await e.rt.getTicket(t)).customFields.RepoURI?.[0];
    const apt = await checkAptRepo(uri!, 'testpkg-dep', { RESOLVE: '1' });
    expect(apt.ok, apt.output).toBe(true);
    const c = await waitForComment(e, t, /Unverified repository/);
    expect(c).toMatch(/not name \(not published\): .*testpkg-broken/);
  });

  it("acts on a ticket created with RepoAction already set (the scrip's ticket.created event)", async () => {
    const product = `TESTTP.oncreate.${e.run}`;
    const t = await e.prov.createTicket({
      subject: `created with action ${e.run}`,
      requestor: 'provider1',
      content: 'Please publish.',
      attachments: [
        {
          filename: 'release.xml',
          contentType: 'application/xml',
          content: Buffer.from(releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] })),
        },
      ],
      customFields: { RepoAction: 'MoveToUnverified' },
    });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');
    expect(await e.svc.db('inbox').where({ ticket_id: t }).select('event', 'source')).toEqual([
      { event: 'ticket.created', source: 'webhook' },
    ]);
  });

  it('refuses MoveToUnverified from someone who is not the requestor, and changes nothing', async () => {
    const product = `TESTTP.refused.${e.run}`;
    const t = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] }), 'wrong actor');
    await rtClient('tug1').setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    const c = await waitForComment(e, t, /RD_ROLE_FORBIDDEN/);
    expect(c).toContain('tug1 may not MoveToUnverified; allowed: the ticket requestor');
    expect(await repoStatus(e, t)).toBe('');
    const rel = await e.svc.db('releases').where({ ticket_id: t }).first();
    expect(rel.status).toBe('New');
    expect(await e.svc.db('packages').where({ release_id: rel.id })).toEqual([]);
  });

  it('answers a replayed delivery with 200 duplicate and acts once', async () => {
    const t = await openTicket(e, releaseXml({ product: `TESTTP.dup.${e.run}`, packages: [rpmSpec(e, 'testpkg')] }), 'duplicate');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    await waitForStatus(e, t, ['Unverified']);
    const row = await e.svc.db('inbox').where({ ticket_id: t }).first();
    const body = JSON.stringify(row.payload);
    const res = await fetch(e.svc.webhookUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, E2E_SECRET) },
    });
    expect(res.status).toBe(200);
    expect(await e.svc.db('transitions').where({ ticket_id: t })).toHaveLength(1);
  });

  it('ignores a signed webhook for a ticket RT does not have', async () => {
    const txn = Date.now(); // unique: the test database keeps rows between runs
    const body = JSON.stringify({
      event: 'customfield.changed',
      ticket_id: 999_999,
      queue: 'Releases',
      subject: 'x',
      transaction_id: txn,
      field: 'RepoAction',
      field_id: 2,
      old_value: null,
      new_value: 'MoveToUnverified',
      actor: { id: 1, name: 'provider1' },
      created: new Date().toISOString(),
      rt_url: 'x',
    });
    const res = await fetch(e.svc.webhookUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, E2E_SECRET) },
    });
    expect(res.status).toBe(202);
    const deadline = Date.now() + 20_000;
    const inboxRow = () => e.svc.db('inbox').where({ ticket_id: 999_999, transaction_id: txn }).first();
    let row = await inboxRow();
    while (Date.now() < deadline && row?.state === 'pending') {
      await new Promise((r) => setTimeout(r, 200));
      row = await inboxRow();
    }
    expect(row).toMatchObject({ state: 'ignored', outcome: 'ticket 999999 not found in RT' });
  });

  it('acts on a change whose webhook was lost, found by the reconciler', async () => {
    const intake = { db: e.svc.db, queue: e.svc.queue, log: e.svc.log, rtQueue: 'Releases', rtUser: 'releasedesk' };
    const deps = { db: e.svc.db, rt: e.rt, log: e.svc.log, intake, config: e.svc.config };
    await e.svc.db('kv').where('key', 'like', 'reconcile:%').del(); // this test's cursors, not a previous run's
    await reconcileOnce(deps); // sets the cursors after RT's history
    expect(await reconcileOnce(deps)).toEqual({ seen: 0, queued: 0 });
    await pointWebhookAt('http://127.0.0.1:9/webhooks/rt', E2E_SECRET); // nothing listens there: the webhook is lost
    try {
      const t = await openTicket(e, releaseXml({ product: `TESTTP.lost.${e.run}`, packages: [rpmSpec(e, 'testpkg')] }), 'lost webhook');
      await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
      expect(await e.svc.db('inbox').where({ ticket_id: t })).toEqual([]);
      // the inbox cannot take it right now (its database handle is gone): the cursor must not move past it
      const gone = createDb(TEST_DATABASE_URL);
      await gone.destroy();
      const cursor = await e.svc.db('kv').where({ key: 'reconcile:last_transaction' }).first();
      await expect(reconcileOnce({ ...deps, intake: { ...intake, db: gone } })).rejects.toThrow();
      expect(await e.svc.db('kv').where({ key: 'reconcile:last_transaction' }).first()).toEqual(cursor);
      expect(await reconcileOnce(deps)).toMatchObject({ queued: 1 });
      expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');
      expect((await e.svc.db('inbox').where({ ticket_id: t }).first()).source).toBe('reconciler');
      // a ticket created with RepoAction already set leaves no CustomField transaction: found all the same
      const c = await e.prov.createTicket({
        subject: `lost create ${e.run}`,
        requestor: 'provider1',
        content: 'x',
        customFields: { RepoAction: 'MoveToUnverified' },
        attachments: [
          {
            filename: 'release.xml',
            contentType: 'application/xml',
            content: Buffer.from(releaseXml({ product: `TESTTP.lostc.${e.run}`, packages: [rpmSpec(e, 'testpkg')] })),
          },
        ],
      });
      expect(await reconcileOnce(deps)).toMatchObject({ queued: 1 });
      expect(await waitForStatus(e, c, ['Unverified', 'Failed'])).toBe('Unverified');
      expect(await e.svc.db('inbox').where({ ticket_id: c }).select('event', 'source')).toEqual([
        { event: 'ticket.created', source: 'reconciler' },
      ]);
    } finally {
      await pointWebhookAt(e.svc.webhookUrl, E2E_SECRET);
    }
  });
});
