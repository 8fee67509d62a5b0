/**
 * RtClient.addAdminCcGroup against the real RT (scripts/rt/start-rt.sh + seed-rt.sh): the service
 * user (not SuperUser) makes a group an AdminCc watcher of a Releases ticket. Nothing is skipped.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isRdError } from '../../../services/errors.ts';
import { RtClient } from '../../../services/helpdesk/rt-client.ts';
import type { RtRequest } from '../../../services/helpdesk/rt-session.ts';
import { requireRt, rtClient } from '../../support/rt.ts';

const run = randomBytes(3).toString('hex');

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return isRdError(e) ? { code: e.code, message: e.message } : { code: `not an RdError: ${String(e)}`, message: '' };
  }
  return { code: 'no error', message: '' };
}

let rd: RtClient;
let root: RtClient;
let provider: RtClient;
/** user-defined group name -> id, as root lists them */
const groups = new Map<string, string>();

const newTicket = (what: string) => provider.createTicket({ subject: `watchers ${what} ${run}`, requestor: 'provider1', content: 'x' });

/** The ticket's AdminCc as releasedesk reads it with REST2 (`GET /ticket/:id`): "group:<id>" / "user:<name>", sorted. */
async function adminCc(ticketId: number): Promise<string[]> {
  const res = await rd.session.request<{ AdminCc?: { type: string; id: string }[] }>({ method: 'GET', path: `/ticket/${ticketId}` });
  return (res.data.AdminCc ?? []).map((m) => `${m.type}:${m.id}`).sort();
}
const group = (name: string) => `group:${groups.get(name)}`;

/** AdminCc transactions of the ticket (root sees them all). */
async function watcherTxns(ticketId: number): Promise<string[]> {
  const res = await root.session.request<{ items: { Type: string; Field: string; OldValue: string; NewValue: string }[] }>({
    method: 'GET',
    path: `/ticket/${ticketId}/history`,
    params: { fields: 'Type,Field,OldValue,NewValue', per_page: 100 },
  });
  return res.data.items.filter((t) => /Watcher$/.test(t.Type) && t.Field === 'AdminCc').map((t) => `${t.Type} ${t.OldValue || t.NewValue}`);
}

/** root replaces the ticket's AdminCc (what someone in the web UI would do). */
async function rootSetsAdminCc(ticketId: number, members: string[]): Promise<void> {
  await root.session.request({ method: 'PUT', path: `/ticket/${ticketId}`, body: { AdminCc: members } });
}

// RT down or not seeded: every test fails with the reason (a failing beforeAll would only mark them skipped)
let ready: Promise<void>;
beforeAll(() => {
  ready = (async () => {
    await requireRt();
    rd = rtClient('releasedesk');
    root = rtClient('root');
    provider = rtClient('provider1');
    const res = await root.session.request<{ items: { id: string; Name: string }[] }>({
      method: 'GET',
      path: '/groups',
      params: { query: JSON.stringify([{ field: 'Domain', value: 'UserDefined' }]), fields: 'Name', per_page: 100 },
    });
    for (const g of res.data.items) groups.set(g.Name, String(g.id));
    for (const name of ['TechnologyUnit', 'RolloutCoordinators'])
      if (!groups.has(name)) throw new Error(`RT has no group ${name}: re-run scripts/rt/seed-rt.sh`);
  })();
  return ready.catch(() => undefined);
});
beforeEach(() => ready);

describe('addAdminCcGroup', () => {
  let ticketId: number;

  it('makes TechnologyUnit an AdminCc of a ticket provider1 created; the REST read shows the group', async () => {
    ticketId = await newTicket('handoff');
    expect(await adminCc(ticketId)).toEqual([]);
    await rd.addAdminCcGroup(ticketId, 'TechnologyUnit');
    expect(await adminCc(ticketId)).toEqual([group('TechnologyUnit')]);
    // the entry is the group itself (GET /ticket shows groups by id)
    const g = await rd.session.request<{ Name: string }>({ method: 'GET', path: `/group/${groups.get('TechnologyUnit')}` });
    expect(g.data.Name).toBe('TechnologyUnit');
    expect(await watcherTxns(ticketId)).toEqual([`AddWatcher ${groups.get('TechnologyUnit')}`]);
  });

  it('adding it again changes nothing and is no error: still one entry, no new transaction', async () => {
    await rd.addAdminCcGroup(ticketId, 'TechnologyUnit');
    await rd.addAdminCcGroup(ticketId, 'technologyunit'); // RT group names are case-insensitive
    expect(await adminCc(ticketId)).toEqual([group('TechnologyUnit')]);
    expect(await watcherTxns(ticketId)).toHaveLength(1);
  });

  it('the group members get the ticket notifications (a comment is mailed to tug1 via TechnologyUnit)', async () => {
    await rd.comment(ticketId, `hand-off to TechnologyUnit ${run}`);
    const txns = await root.session.request<{ items: { id: string; Type: string }[] }>({
      method: 'GET',
      path: `/ticket/${ticketId}/history`,
      params: { fields: 'Type', per_page: 100, orderby: 'id', order: 'DESC' },
    });
    const mail = txns.data.items.find((t) => t.Type === 'CommentEmailRecord');
    expect(mail, 'RT recorded no outgoing comment mail').toBeDefined();
    const parts = await root.session.request<{ items: { Headers?: string }[] }>({
      method: 'GET',
      path: `/transaction/${mail!.id}/attachments`,
      params: { fields: 'Headers' },
    });
    const recipients = parts.data.items
      .flatMap((a) => (a.Headers ?? '').split('\n'))
      .filter((l) => /^(to|cc|bcc):/i.test(l))
      .join(' ');
    expect(recipients).toContain('tug1@localhost');
  });

  it('keeps the other AdminCc watchers (the REST2 PUT replaces the whole list)', async () => {
    const id = await newTicket('keep');
    await rootSetsAdminCc(id, ['tug1']);
    await rd.addAdminCcGroup(id, 'RolloutCoordinators');
    await rd.addAdminCcGroup(id, 'TechnologyUnit');
    expect(await adminCc(id)).toEqual([group('RolloutCoordinators'), group('TechnologyUnit'), 'user:tug1'].sort());
  });

  it('repairs what a concurrent change between its read and its write would have undone', async () => {
    const id = await newTicket('race');
    await rootSetsAdminCc(id, ['tug1']);
    // just before releasedesk's PUT, someone replaces tug1 by rollout1: the PUT (read: tug1) puts tug1
    // back and removes rollout1, and RT reports three changes for one asked
    const client = rtClient('releasedesk');
    const send = client.session.request.bind(client.session);
    let puts = 0;
    client.session.request = (async (req: RtRequest) => {
      if (req.method === 'PUT' && puts++ === 0) await rootSetsAdminCc(id, ['rollout1']);
      return send(req);
    }) as typeof client.session.request;
    await client.addAdminCcGroup(id, 'TechnologyUnit');
    expect(puts).toBe(2);
    expect(await adminCc(id)).toEqual([group('TechnologyUnit'), 'user:rollout1']);
  });

  it('an unknown group is RD_HELPDESK_REFUSED naming the group; the ticket is left alone', async () => {
    const before = await watcherTxns(ticketId);
    const f = await failure(rd.addAdminCcGroup(ticketId, `NoSuchGroup-${run}`));
    expect(f.code).toBe('RD_HELPDESK_REFUSED');
    expect(f.message).toContain(`NoSuchGroup-${run}`);
    expect(await adminCc(ticketId)).toEqual([group('TechnologyUnit')]);
    expect(await watcherTxns(ticketId)).toEqual(before);
  });

  it('RD_HELPDESK_REFUSED for a user RT does not let do it (provider1), ticket unchanged', async () => {
    const f = await failure(provider.addAdminCcGroup(ticketId, 'RolloutCoordinators'));
    expect(f.code).toBe('RD_HELPDESK_REFUSED');
    expect(f.message).toContain('RolloutCoordinators');
    // provider1 may not even see the group; lend it releasedesk's lookup and RT itself says no (no ModifyTicket)
    const client = rtClient('provider1');
    const send = client.session.request.bind(client.session);
    client.session.request = ((req: RtRequest) =>
      req.path === '/groups' ? rd.session.request(req) : send(req)) as typeof client.session.request;
    const denied = await failure(client.addAdminCcGroup(ticketId, 'RolloutCoordinators'));
    expect(denied.code).toBe('RD_HELPDESK_REFUSED');
    expect(denied.message).toMatch(/RolloutCoordinators.*Permission denied/);
    expect(await adminCc(ticketId)).toEqual([group('TechnologyUnit')]);
  });

  it('RD_TICKET_NOT_FOUND for an unknown ticket or one outside the queue; RD_HELPDESK_UNAVAILABLE without RT', async () => {
    expect((await failure(rd.addAdminCcGroup(99_999_999, 'TechnologyUnit'))).code).toBe('RD_TICKET_NOT_FOUND');
    expect((await failure(rtClient('root', 'General').addAdminCcGroup(ticketId, 'RolloutCoordinators'))).code).toBe('RD_TICKET_NOT_FOUND');
    expect(await adminCc(ticketId)).toEqual([group('TechnologyUnit')]);
    const down = new RtClient({ baseUrl: 'http://127.0.0.1:1', token: 'x', timeoutMs: 2000 });
    expect((await failure(down.addAdminCcGroup(ticketId, 'TechnologyUnit'))).code).toBe('RD_HELPDESK_UNAVAILABLE');
    await expect(rd.addAdminCcGroup(ticketId, ' ')).rejects.toThrow(TypeError);
  });
});
