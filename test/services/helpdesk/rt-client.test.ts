/**
 * RtClient against the real RT (scripts/rt/start-rt.sh + seed-rt.sh). Nothing is skipped: without a
 * running, seeded RT every test fails with the commands that start it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isRdError, type ErrorCode } from '../../../services/errors.ts';
import { RtHelpdesk } from '../../../services/helpdesk/index.ts';
import { RtClient } from '../../../services/helpdesk/rt-client.ts';
import { memberOf } from '../../../services/helpdesk/rt-directory.ts';
import { pointWebhookAt, requireRt, RT_URL, rtClient, rtTokens, startWebhookReceiver } from '../../support/rt.ts';
import { startRtCookieProxy } from '../../support/rt-cookie-proxy.ts';

const run = randomBytes(3).toString('hex');
// UTF-8 beyond ASCII and CRLF: the bytes must come back exactly as uploaded
const XML = Buffer.from(
  `<?xml version="1.0" encoding="UTF-8"?>\r\n<release xmlns="http://repo.egi.eu/0.2/release">\r\n` +
    `  <name>démo-tool ✓</name>\r\n  <version>1.2.${run}</version>\r\n</release>\r\n`,
  'utf8',
);

async function rdCode(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    await p;
  } catch (e) {
    return isRdError(e) ? e.code : `not an RdError: ${String(e)}`;
  }
  return 'no error';
}

let rd: RtClient;
let provider: RtClient;
let tug: RtClient;
let ticketId: number;
let actionTxns: number[] = [];

// RT down or not seeded: every test fails with the reason (a failing beforeAll would only mark them skipped)
let ready: Promise<void>;
beforeAll(() => {
  ready = (async () => {
    await requireRt();
    rd = rtClient('releasedesk');
    provider = rtClient('provider1');
    tug = rtClient('tug1');
    ticketId = await provider.createTicket({
      subject: `Release démo-tool 1.2.${run}`,
      requestor: 'provider1',
      content: 'Please publish.',
      attachments: [
        { filename: 'notes.txt', contentType: 'text/plain', content: Buffer.from('not the metadata\n') },
        { filename: 'release.xml', contentType: 'application/xml', content: XML },
      ],
    });
  })();
  return ready.catch(() => undefined);
});
beforeEach(() => ready);

describe('session', () => {
  it('logs in with the token once and then reuses the RT session cookie', async () => {
    const rt = rtClient('releasedesk');
    await rt.ping();
    for (let i = 0; i < 5; i++) await rt.getTicket(ticketId);
    expect(rt.stats.logins).toBe(1);
    expect(rt.stats.requests).toBeGreaterThanOrEqual(6);
  });

  it('logs in again, once, when RT has dropped the session', async () => {
    const rt = rtClient('tug1');
    await rt.ping();
    const cookie = (rt.session as unknown as { cookie: string }).cookie;
    const logout = await fetch(`${RT_URL}/NoAuth/Logout.html`, { headers: { Cookie: cookie }, redirect: 'manual' });
    expect(logout.status).toBeLessThan(400);
    const ticket = await rt.getTicket(ticketId);
    expect(ticket.id).toBe(ticketId);
    // getTicket sends two requests at once: both are refused, both are repeated, one login serves them
    expect(rt.stats.logins).toBe(2);
    expect(rt.stats.retries).toBeGreaterThanOrEqual(1);
  });

  it('works for the unprivileged provider too (RT redirects it to SelfService; the cookie still counts)', async () => {
    const t = await provider.getTicket(ticketId);
    expect(t.requestors).toEqual(['provider1']);
    expect(provider.stats.logins).toBe(1);
  });

  it("writes carry the token and never the cookie: RT refuses a cookie write (its CSRF check) and takes the client's", async () => {
    const rt = rtClient('releasedesk');
    await rt.getTicket(ticketId);
    const cookie = (rt.session as unknown as { cookie: string }).cookie;
    // what every releasedesk write was before RT's CVE-2026-108277 fix: this RT must refuse it, or the test proves nothing
    const csrf = await fetch(`${RT_URL}/REST/2.0/ticket/${ticketId}`, {
      method: 'PUT',
      headers: { Cookie: cookie, 'Content-Type': 'application/json' },
      body: JSON.stringify({ CustomFields: { RepoURI: 'x' } }),
    });
    expect(csrf.status).toBe(403);
    expect(await csrf.text()).toContain('Cross-site request forgery protection refused this request');
    await rt.setCustomFields(ticketId, { RepoURI: `https://csrf.example.test/${run}` });
    await rt.comment(ticketId, `[RD_TEST] written with the token ${run}`);
    expect(rt.stats).toMatchObject({ logins: 1, tokenRequests: 2 }); // reads stay on the one session
    await rt.setCustomFields(ticketId, { RepoURI: '' });
  });

  it("RT refusing the service's writes is RD_HELPDESK_WRITE_REFUSED with RT's words; reads go on", async () => {
    const proxy = await startRtCookieProxy(RT_URL);
    try {
      const rt = new RtClient({ baseUrl: proxy.url, token: rtTokens().releasedesk });
      expect((await rt.getTicket(ticketId)).id).toBe(ticketId);
      const err = await rt.setCustomFields(ticketId, { RepoURI: 'refused' }).catch((e: unknown) => e);
      expect(isRdError(err) && err.code).toBe('RD_HELPDESK_WRITE_REFUSED');
      expect((err as Error).message).toBe(
        `RT refuses the service's writes: RT answered 403 to PUT /ticket/${ticketId}: Cross-site request forgery protection refused this request`,
      );
      expect(await rdCode(rt.comment(ticketId, 'refused'))).toBe('RD_HELPDESK_WRITE_REFUSED');
      expect(proxy.refused).toBe(2);
      expect((await rd.getTicket(ticketId)).customFields.RepoURI).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a wrong token is RD_HELPDESK_REFUSED, no RT is RD_HELPDESK_UNAVAILABLE', async () => {
    const bad = new RtClient({ baseUrl: RT_URL, token: rtTokens().releasedesk.replace(/.{4}$/, '0000') });
    expect(await rdCode(bad.ping())).toBe('RD_HELPDESK_REFUSED');
    const down = new RtClient({ baseUrl: 'http://127.0.0.1:1', token: 'x', timeoutMs: 2000 });
    expect(await rdCode(down.ping())).toBe('RD_HELPDESK_UNAVAILABLE');
  });
});

describe('tickets and attachments', () => {
  it('reads the ticket: queue, subject, requestors, every custom field', async () => {
    const t = await rd.getTicket(ticketId);
    expect(t).toMatchObject({ id: ticketId, queue: 'Releases', subject: `Release démo-tool 1.2.${run}`, requestors: ['provider1'] });
    expect(t.customFields).toEqual({ RepoAction: [], RepoStatus: [], RepoURI: [] });
  });

  it('gives back the newest .xml attachment byte for byte', async () => {
    const xml = await rd.getReleaseXml(ticketId);
    expect(xml.filename).toBe('release.xml');
    expect(xml.content.equals(XML)).toBe(true);
    const found = await rd.findAttachment(ticketId, (a) => a.filename === 'notes.txt');
    expect(found?.contentType).toBe('text/plain');
    expect((await rd.downloadAttachment(found!.id)).toString()).toBe('not the metadata\n');
  });

  it('RD_ATTACHMENT_MISSING without an .xml attachment', async () => {
    const bare = await provider.createTicket({ subject: `no xml ${run}`, requestor: 'provider1', content: 'oops' });
    expect(await rdCode(rd.getReleaseXml(bare))).toBe('RD_ATTACHMENT_MISSING');
  });

  it('RD_TICKET_NOT_FOUND for an unknown ticket, and for a ticket outside the queue', async () => {
    expect(await rdCode(rd.getTicket(99_999_999))).toBe('RD_TICKET_NOT_FOUND');
    expect(await rdCode(rd.getCustomFieldTransactions(99_999_999))).toBe('RD_TICKET_NOT_FOUND');
    expect(await rdCode(rd.setCustomFields(99_999_999, { RepoStatus: 'Failed' }))).toBe('RD_TICKET_NOT_FOUND');
    expect(await rdCode(rd.getTicket(0))).toBe('RD_TICKET_NOT_FOUND');
    const elsewhere = rtClient('root', 'General'); // root sees every queue; the client expects General
    expect(await rdCode(elsewhere.getTicket(ticketId))).toBe('RD_TICKET_NOT_FOUND');
  });
});

describe('RepoAction changes and their transactions', () => {
  it('provider1 and tug1 set RepoAction; the history shows both changes with their actors', async () => {
    await provider.setCustomFields(ticketId, { RepoAction: 'MoveToUnverified' });
    await tug.setCustomFields(ticketId, { RepoAction: 'MoveToStageRollOut' });
    expect((await tug.getTicket(ticketId)).customFields.RepoAction).toEqual(['MoveToStageRollOut']);

    const fieldId = await rd.customFieldId('RepoAction');
    const changes = (await rd.getCustomFieldTransactions(ticketId)).filter((c) => c.field === fieldId);
    expect(changes.map(({ oldValue, newValue, creator, ticketId: tid }) => ({ oldValue, newValue, creator, tid }))).toEqual([
      { oldValue: null, newValue: 'MoveToUnverified', creator: 'provider1', tid: ticketId },
      { oldValue: 'MoveToUnverified', newValue: 'MoveToStageRollOut', creator: 'tug1', tid: ticketId },
    ]);
    expect(changes[0]!.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    actionTxns = changes.map((c) => c.id);
  });

  it("the workflow's history: every RepoAction change, and the Create of a ticket created with a value", async () => {
    const hd = new RtHelpdesk(rd);
    const h = await (await hd.readTicket(ticketId)).history;
    expect(h.changes.map((c) => c.id)).toEqual(actionTxns); // created without RepoAction: no Create
    expect(h.changes[1]).toMatchObject({ type: 'CustomField', field: 'RepoAction', newValue: 'MoveToStageRollOut', creator: 'tug1' });

    const created = await provider.createTicket({
      subject: `created with ${run}`,
      requestor: 'provider1',
      content: 'x',
      customFields: { RepoAction: 'MoveToUnverified' },
    });
    const first = await (await hd.readTicket(created)).history;
    expect(first.changes).toEqual([
      expect.objectContaining({ type: 'Create', oldValue: null, newValue: 'MoveToUnverified', creator: 'provider1' }),
    ]);
    await tug.setCustomFields(created, { RepoAction: 'Reject' });
    const later = await (await hd.readTicket(created)).history;
    expect(later.changes.map((c) => [c.type, c.newValue])).toEqual([
      ['Create', 'MoveToUnverified'],
      ['CustomField', 'Reject'],
    ]);
  });

  it('newestTransactionId: the newest RepoAction change, or ticket creation, in the queue, in one request', async () => {
    const fieldId = await rd.customFieldId('RepoAction');
    const t = await provider.createTicket({ subject: `newest ${run}`, requestor: 'provider1', content: 'x' });
    await provider.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    const history = await rd.getHistory(t);
    const n = rd.stats.requests;
    expect(await rd.newestTransactionId(fieldId)).toBe(history.find((h) => h.type === 'CustomField' && h.field === fieldId)!.id);
    expect(await rd.newestTransactionId()).toBe(history.find((h) => h.type === 'Create')!.id);
    expect(rd.stats.requests - n).toBe(2);
  });

  it('searchCustomFieldTransactions finds the changes after a transaction id, across tickets (reconciler)', async () => {
    const fieldId = await rd.customFieldId('RepoAction');
    const found = await rd.searchCustomFieldTransactions(fieldId, actionTxns[0]! - 1);
    const ours = found.filter((c) => c.ticketId === ticketId);
    expect(ours.map((c) => c.id)).toEqual(actionTxns);
    expect(ours[1]).toMatchObject({ field: fieldId, oldValue: 'MoveToUnverified', newValue: 'MoveToStageRollOut', creator: 'tug1' });
    expect(found.every((c, i) => i === 0 || c.id > found[i - 1]!.id)).toBe(true);
    expect(await rd.searchCustomFieldTransactions(fieldId, actionTxns[1]!)).not.toContainEqual(
      expect.objectContaining({ id: actionTxns[1] }),
    );
  });
});

describe('the note written with a RepoAction change (the reason of a Reject)', () => {
  it('is the newest comment by the same author since the previous RepoAction change; null when there is none', async () => {
    const fieldId = await rd.customFieldId('RepoAction');
    const t = await provider.createTicket({ subject: `note ${run}`, requestor: 'provider1', content: 'x' });
    await provider.comment(t, `provider note ${run}`);
    await provider.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    await tug.comment(t, `looks fine ${run}`);
    await tug.setCustomFields(t, { RepoAction: 'MoveToStageRollOut' });
    await tug.comment(t, `first thought ${run}`);
    await tug.comment(t, `Signature of foo.rpm is wrong ${run}\nsecond line`);
    await rd.comment(t, `the service's own comment ${run}`);
    await tug.setCustomFields(t, { RepoAction: 'Reject' });
    await tug.setCustomFields(t, { RepoAction: 'MoveToStageRollOut' });
    const ids = (await rd.getCustomFieldTransactions(t)).filter((c) => c.field === fieldId).map((c) => c.id);
    expect(ids).toHaveLength(4);
    const hd = new RtHelpdesk(rd);
    const h = await (await hd.readTicket(t)).history;
    const note = (txn: number) => hd.noteText(t, h.notesOf(txn));
    expect(await note(ids[0]!)).toBe(`provider note ${run}`);
    expect(await note(ids[1]!)).toBe(`looks fine ${run}`); // not the later ones in the same second
    expect(await note(ids[2]!)).toBe(`Signature of foo.rpm is wrong ${run}\nsecond line`);
    const before = rd.stats.requests;
    expect(await note(ids[3]!)).toBeNull();
    expect(rd.stats.requests).toBe(before); // nothing written with it: RT is not asked
  });
});

describe('write-back as the service user', () => {
  it('sets RepoStatus + RepoURI, proven by RT\'s answer alone when it names each value; "" clears', async () => {
    const uri = `https://repo.example.test/unverified/demo-tool/1.2.${run}`;
    const calls = rd.stats.requests;
    await rd.setCustomFields(ticketId, { RepoStatus: 'Unverified', RepoURI: uri });
    expect(rd.stats.requests - calls).toBe(1); // the PUT: "RepoStatus Unverified added", "RepoURI … added"
    expect((await rd.getTicket(ticketId)).customFields).toMatchObject({ RepoStatus: ['Unverified'], RepoURI: [uri] });
    await rd.setCustomFields(ticketId, { RepoURI: '' });
    expect((await rd.getTicket(ticketId)).customFields.RepoURI).toEqual([]);
    // RT itself would leave a NULL value (`[null]`) for a plain "", and add one for a clear of an empty field
    const uriField = await rd.customFieldId('RepoURI');
    const uriChanges = async () => (await rd.getCustomFieldTransactions(ticketId)).filter((c) => c.field === uriField).length;
    const changes = await uriChanges();
    await rd.setCustomFields(ticketId, { RepoURI: '' });
    expect(await uriChanges()).toBe(changes);
    const raw = await rd.session.request<{ CustomFields: { name: string; values: unknown[] }[] }>({
      method: 'GET',
      path: `/ticket/${ticketId}`,
    });
    expect(raw.data.CustomFields.find((c) => c.name === 'RepoURI')?.values).toEqual([]);
    // a value that contains RT's own words for failure is still a success
    await rd.setCustomFields(ticketId, { RepoURI: `${uri}/error-invalid-denied` });
    await rd.setCustomFields(ticketId, { RepoURI: '' });
    // the same value again: RT records nothing and says so in words that name no field; read back, a success
    const again = rd.stats.requests;
    await rd.setCustomFields(ticketId, { RepoStatus: 'Unverified' });
    expect(rd.stats.requests - again).toBe(2);
  });

  it('detects what RT refuses with HTTP 200', async () => {
    // invalid select value
    expect(await rdCode(rd.setCustomFields(ticketId, { RepoStatus: 'NoSuchValue' }))).toBe('RD_HELPDESK_REFUSED');
    // no right: RepoAction is people's, RepoStatus the service's
    expect(await rdCode(rd.setCustomFields(ticketId, { RepoAction: 'Reject' }))).toBe('RD_HELPDESK_REFUSED');
    expect(await rdCode(provider.setCustomFields(ticketId, { RepoStatus: 'Production' }))).toBe('RD_HELPDESK_REFUSED');
    // an unknown field name is silently ignored by RT
    expect(await rdCode(rd.setCustomFields(ticketId, { NoSuchField: 'x' }))).toBe('RD_HELPDESK_REFUSED');
    const t = await rd.getTicket(ticketId);
    expect(t.customFields).toMatchObject({ RepoStatus: ['Unverified'], RepoAction: ['MoveToStageRollOut'] });
  });

  it('refuses null (RT would store a NULL value)', async () => {
    await expect(rd.setCustomFields(ticketId, { RepoURI: null as unknown as string })).rejects.toThrow(TypeError);
  });

  it('comments, and finds the comment again by its marker', async () => {
    const marker = `-- releasedesk op test-${run}`;
    await rd.comment(ticketId, `[RD_TEST] all good ✓\n${marker}`);
    expect(await rd.hasComment(ticketId, marker)).toBe(true);
    expect(await rd.hasComment(ticketId, `${marker}-other`)).toBe(false);
  });

  it('comments and sets fields in one write, the comment first as on RT\'s update page; "" clears in a write of its own', async () => {
    const tk = await provider.createTicket({ subject: `comment with fields ${run}`, requestor: 'provider1', content: 'x' });
    const mark = (await rd.getHistory(tk)).at(-1)!.id;
    const writes: string[] = [];
    const request = rd.session.request.bind(rd.session);
    rd.session.request = ((opts: { method?: string; path: string }) => {
      if (opts.method && opts.method !== 'GET') writes.push(`${opts.method} ${opts.path}`);
      return request(opts as Parameters<typeof request>[0]);
    }) as typeof rd.session.request;
    try {
      await rd.comment(tk, `[RD_TEST] published ${run}`, [], { RepoStatus: 'Unverified', RepoURI: `http://x/${run}/` });
      expect(writes).toEqual([`POST /ticket/${tk}/comment`]);
      expect((await rd.getTicket(tk)).customFields).toMatchObject({ RepoStatus: ['Unverified'], RepoURI: [`http://x/${run}/`] });
      const statusField = await rd.customFieldId('RepoStatus');
      const since = (await rd.getHistory(tk)).filter((h) => h.id > mark);
      const seen = since.flatMap((h) =>
        h.type === 'Comment' ? ['comment'] : h.type === 'CustomField' && h.field === statusField ? [h.newValue] : [],
      );
      expect(seen).toEqual(['comment', 'Unverified']);

      writes.length = 0;
      await rd.comment(tk, `[RD_TEST] promoted ${run}`, [], { RepoStatus: 'StageRollOut', RepoURI: '' });
      expect(writes).toEqual([`POST /ticket/${tk}/comment`, `PUT /ticket/${tk}`]);
      expect((await rd.getTicket(tk)).customFields).toMatchObject({ RepoStatus: ['StageRollOut'], RepoURI: [] });
    } finally {
      rd.session.request = request;
    }
  });

  it('a field RT does not set with the comment is RD_HELPDESK_REFUSED naming it; the comment is there', async () => {
    const marker = `-- releasedesk op refused-${run}`;
    const e = await rd.comment(ticketId, `[RD_TEST] x\n${marker}`, [], { RepoStatus: 'NoSuchValue' }).catch((err: unknown) => err);
    expect(isRdError(e) && e.code).toBe('RD_HELPDESK_REFUSED');
    expect((e as Error).message).toContain('RepoStatus="NoSuchValue"');
    expect(await rd.hasComment(ticketId, marker)).toBe(true);
  });
});

describe('users and groups', () => {
  it('membership is read with SeeGroup only', async () => {
    const groups = await rd.readGroups();
    expect(memberOf(groups, 'tug1')).toContain('TechnologyUnit');
    expect(memberOf(groups, 'rollout1')).toEqual(['RolloutCoordinators']);
    expect(memberOf(groups, 'provider1')).toEqual(['SoftwareProviders']);
    expect(memberOf(groups, 'nobody-such')).toEqual([]);
  });

  it('the workflow reads the groups once for all users while the read is younger than its max age; fresh reads again', async () => {
    const hd = new RtHelpdesk(rd, 60_000);
    const before = rd.stats.requests;
    const [tugGroups, rollout] = await Promise.all([hd.userGroups('tug1'), hd.userGroups('rollout1')]);
    const oneRead = rd.stats.requests - before;
    expect(oneRead).toBeGreaterThan(1); // the list, then each group's members
    expect(tugGroups).toContain('TechnologyUnit');
    expect(rollout).toEqual(['RolloutCoordinators']);
    expect(await hd.userGroups('provider1')).toEqual(['SoftwareProviders']);
    expect(rd.stats.requests - before).toBe(oneRead);
    expect(await hd.userGroups('tug1', { fresh: true })).toContain('TechnologyUnit');
    expect(rd.stats.requests - before).toBe(2 * oneRead);

    // a notice takes the group's id from the same read: read the watchers, write them, read them back
    const t = await provider.createTicket({ subject: `notice ${run}`, requestor: 'provider1', content: 'x' });
    const n0 = rd.stats.requests;
    await hd.addAdminCcGroup(t, 'technologyunit'); // RT's names are case-insensitive
    expect(rd.stats.requests - n0).toBe(3);
    const watchers = await rd.session.request<{ AdminCc?: { type: string; id: string }[] }>({ method: 'GET', path: `/ticket/${t}` });
    const tu = (await rd.readGroups()).find((g) => g.Name === 'TechnologyUnit')!;
    expect(watchers.data.AdminCc).toEqual([expect.objectContaining({ type: 'group', id: String(tu.id) })]);

    const always = new RtHelpdesk(rd, 0);
    await always.userGroups('tug1');
    const mark = rd.stats.requests;
    await new Promise((r) => setTimeout(r, 5));
    await always.userGroups('tug1');
    expect(rd.stats.requests - mark).toBe(oneRead);
  });

  it('getUser gives id, name and email; null when there is no such user', async () => {
    const u = await rd.getUser('tug1');
    expect(u).toMatchObject({ name: 'tug1', email: 'tug1@localhost' });
    expect(u!.id).toBeGreaterThan(0);
    expect(await rd.getUser('nobody-such')).toBeNull();
  });
});

describe('the webhook scrip', () => {
  const secret = `test-secret-${randomBytes(12).toString('hex')}`;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let restore: () => Promise<void>;

  beforeAll(async () => {
    if (
      !(await ready.then(
        () => true,
        () => false,
      ))
    )
      return; // every test fails on `ready` already
    receiver = await startWebhookReceiver(secret);
    ({ restore } = await pointWebhookAt(receiver.url, secret, 3));
  });
  afterAll(async () => {
    await restore?.();
    await receiver?.close();
  });

  it('posts the signed contract payload when RepoAction changes', async () => {
    await tug.setCustomFields(ticketId, { RepoAction: 'Reject' });
    const txn = (await rd.getCustomFieldTransactions(ticketId)).at(-1)!;
    const d = await receiver.waitFor((x) => x.body.transaction_id === txn.id);
    expect(d.signatureValid).toBe(true);
    expect(d.headers['content-type']).toBe('application/json');
    expect(d.headers['x-rt-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    const tug1 = await rd.getUser('tug1');
    expect(d.body).toEqual({
      event: 'customfield.changed',
      ticket_id: ticketId,
      queue: 'Releases',
      subject: `Release démo-tool 1.2.${run}`,
      transaction_id: txn.id,
      field: 'RepoAction',
      field_id: await rd.customFieldId('RepoAction'),
      old_value: 'MoveToStageRollOut',
      new_value: 'Reject',
      actor: { id: tug1!.id, name: 'tug1' },
      created: txn.created,
      rt_url: RT_URL,
    });
  });

  it('posts ticket.created for a ticket created with RepoAction set', async () => {
    const id = await provider.createTicket({
      subject: `created with action ${run}`,
      requestor: 'provider1',
      content: 'x',
      attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: XML }],
      customFields: { RepoAction: 'MoveToUnverified' },
    });
    const d = await receiver.waitFor((x) => x.body.ticket_id === id);
    expect(d.signatureValid).toBe(true);
    expect(d.body).toMatchObject({ event: 'ticket.created', old_value: null, new_value: 'MoveToUnverified', actor: { name: 'provider1' } });
  });

  it('a re-pointed target takes effect at once, without restarting RT', async () => {
    const other = await startWebhookReceiver(secret);
    try {
      await pointWebhookAt(other.url, secret, 3);
      await tug.setCustomFields(ticketId, { RepoAction: 'Deprecate' });
      const d = await other.waitFor((x) => x.body.ticket_id === ticketId && x.body.new_value === 'Deprecate');
      expect(d.signatureValid).toBe(true);
      expect(receiver.deliveries.some((x) => x.body.new_value === 'Deprecate')).toBe(false);
    } finally {
      await pointWebhookAt(receiver.url, secret, 3);
      await other.close();
    }
  });
});
