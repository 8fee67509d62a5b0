import { beforeAll, describe, expect, it } from 'vitest';
import { RtHelpdesk } from '../../../services/helpdesk/index.ts';
import { checkWritesAccepted, deliverDue, enqueueWriteBack, markerLine, pendingCount } from '../../../services/helpdesk/outbox.ts';
import { RtClient } from '../../../services/helpdesk/rt-client.ts';
import { createLogger } from '../../../services/log.ts';
import { useTestDb } from '../../support/db.ts';
import { ensureRtRunning, RT_URL, rtClient, rtTokens } from '../../support/rt.ts';
import { startRtCookieProxy } from '../../support/rt-cookie-proxy.ts';

const t = useTestDb();
const log = createLogger('silent');
let rt: RtHelpdesk;
let ticket: number;

beforeAll(async () => {
  await ensureRtRunning();
  rt = new RtHelpdesk(rtClient('releasedesk'));
  ticket = await rtClient('provider1').createTicket({ subject: `outbox ${Date.now()}`, requestor: 'provider1', content: 'x' });
}, 120_000);

const ours = async () => (await rt.client.textParts(ticket)).filter((x) => x.includes('-- releasedesk op ')).reverse();

describe('outbox delivery to the real RT', () => {
  it('keeps everything while RT is unreachable, then delivers in order, once', async () => {
    const tag = Date.now();
    await enqueueWriteBack(t.db, ticket, `o-${tag}-1`, { kind: 'fields', fields: { RepoStatus: 'Processing' } });
    await enqueueWriteBack(t.db, ticket, `o-${tag}-2`, { kind: 'comment', text: `first ${tag}` });
    await enqueueWriteBack(t.db, ticket, `o-${tag}-3`, {
      kind: 'fields',
      fields: { RepoStatus: 'Unverified', RepoURI: `http://x/${tag}/` },
    });
    await enqueueWriteBack(t.db, ticket, `o-${tag}-3`, { kind: 'comment', text: 'same marker: ignored' });
    expect(await pendingCount(t.db)).toBe(3);

    const down = new RtHelpdesk(new RtClient({ baseUrl: 'http://127.0.0.1:9', token: rtTokens().releasedesk, timeoutMs: 1000 }));
    expect(await deliverDue(t.db, down, log)).toEqual({ delivered: 0, failed: 1 });
    const head = await t.db('outbox').orderBy('id').first();
    expect(head).toMatchObject({ attempts: 1, delivered_at: null });
    expect(head.last_error).toMatch(/RD_HELPDESK_UNAVAILABLE/);
    expect(new Date(head.next_attempt_at).getTime()).toBeGreaterThan(Date.now());
    // not due yet: nothing happens even though RT is back
    expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 0, failed: 0 });

    await t.db('outbox').update({ next_attempt_at: new Date(0) });
    expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 3, failed: 0 });
    const tk = await rt.getTicket(ticket);
    expect(tk.customFields.RepoStatus).toEqual(['Unverified']);
    expect(tk.customFields.RepoURI).toEqual([`http://x/${tag}/`]);
    const statusField = await rt.client.customFieldId('RepoStatus');
    const hist = (await rt.client.getCustomFieldTransactions(ticket)).filter((h) => h.field === statusField).map((h) => h.newValue);
    expect(hist.slice(-2)).toEqual(['Processing', 'Unverified']);
    expect((await ours()).filter((c) => c.includes(`first ${tag}`))).toEqual([`first ${tag}\n\n${markerLine(`o-${tag}-2`)}`]);
    expect(await pendingCount(t.db)).toBe(0);
  });

  it('sets fields queued one after another in one call, as the last says, with the comment after them; later ones after it', async () => {
    const tag = Date.now();
    const statusField = await rt.client.customFieldId('RepoStatus');
    const mark = (await rt.client.getHistory(ticket)).at(-1)!.id;
    const fields = (f: Record<string, string>) => ({ kind: 'fields' as const, fields: f });
    await enqueueWriteBack(t.db, ticket, `c-${tag}-1`, fields({ RepoStatus: 'Processing' }));
    await enqueueWriteBack(t.db, ticket, `c-${tag}-2`, fields({ RepoStatus: 'StageRollOut', RepoURI: `http://x/${tag}/` }));
    await enqueueWriteBack(t.db, ticket, `c-${tag}-3`, { kind: 'comment', text: `between ${tag}` });
    await enqueueWriteBack(t.db, ticket, `c-${tag}-4`, fields({ RepoStatus: 'Processing' }));
    await enqueueWriteBack(t.db, ticket, `c-${tag}-5`, fields({ RepoStatus: 'Production', RepoURI: '' }));
    expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 5, failed: 0 });

    const since = (await rt.client.getHistory(ticket)).filter((h) => h.id > mark);
    const seen = since.flatMap((h) =>
      h.type === 'Comment' ? ['comment'] : h.type === 'CustomField' && h.field === statusField ? [h.newValue] : [],
    );
    // the first two statuses and the comment are one write: the comment, then the status it brings (RT's order)
    expect(seen).toEqual(['comment', 'StageRollOut', 'Production']);
    expect((await rt.getTicket(ticket)).customFields).toMatchObject({ RepoStatus: ['Production'], RepoURI: [] });
    expect(await t.db('outbox').where('marker', 'like', `c-${tag}-%`).whereNull('delivered_at')).toEqual([]);
  });

  it('does not post a comment twice when RT took it but the delivery was not recorded (kill -9)', async () => {
    const marker = `o-${Date.now()}-crash`;
    await enqueueWriteBack(t.db, ticket, marker, { kind: 'comment', text: 'posted once' });
    // the process died right after RT accepted: RT has it, the row says "attempted, not delivered"
    await rt.comment(ticket, `posted once\n\n${markerLine(marker)}`);
    await t.db('outbox').where({ marker }).update({ attempts: 1 });
    expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 1, failed: 0 });
    expect((await ours()).filter((c) => c.includes(markerLine(marker)))).toHaveLength(1);
  });

  it("a job's final status and its comment are one write; after a kill -9 that left the comment only, the retry sets the fields and posts nothing again", async () => {
    const tag = Date.now();
    const tk = await rtClient('provider1').createTicket({ subject: `outbox together ${tag}`, requestor: 'provider1', content: 'x' });
    const calls: string[] = [];
    const counted = new Proxy(rt, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push(String(key));
          return v.apply(target, args);
        };
      },
    });
    await enqueueWriteBack(t.db, tk, `t-${tag}-1`, { kind: 'fields', fields: { RepoStatus: 'Unverified', RepoURI: `http://x/${tag}/` } });
    await enqueueWriteBack(t.db, tk, `t-${tag}-2`, { kind: 'comment', text: `published ${tag}` });
    expect(await deliverDue(t.db, counted, log)).toEqual({ delivered: 2, failed: 0 });
    expect(calls).toEqual(['comment']);
    expect((await rt.getTicket(tk)).customFields).toMatchObject({ RepoStatus: ['Unverified'], RepoURI: [`http://x/${tag}/`] });

    // the process died after RT took the comment and before it set the fields (or before the delivery was recorded)
    await enqueueWriteBack(t.db, tk, `t-${tag}-3`, { kind: 'fields', fields: { RepoStatus: 'StageRollOut' } });
    await enqueueWriteBack(t.db, tk, `t-${tag}-4`, { kind: 'comment', text: `promoted ${tag}` });
    await rt.comment(tk, `promoted ${tag}\n\n${markerLine(`t-${tag}-4`)}`);
    await t
      .db('outbox')
      .whereIn('marker', [`t-${tag}-3`, `t-${tag}-4`])
      .update({ attempts: 1 });
    calls.length = 0;
    expect(await deliverDue(t.db, counted, log)).toEqual({ delivered: 2, failed: 0 });
    expect(calls).toEqual(['hasComment', 'setCustomFields']);
    expect((await rt.getTicket(tk)).customFields.RepoStatus).toEqual(['StageRollOut']);
    expect((await rt.client.textParts(tk)).filter((c) => c.includes(markerLine(`t-${tag}-4`)))).toHaveLength(1);
  });

  it('a notice makes the group an AdminCc; one RT refuses becomes a comment saying so and holds up nothing', async () => {
    const tag = Date.now();
    const tk = await rtClient('provider1').createTicket({ subject: `outbox notice ${tag}`, requestor: 'provider1', content: 'x' });
    await enqueueWriteBack(t.db, tk, `n-${tag}-1`, { kind: 'watchers', adminCcGroup: 'TechnologyUnit' });
    await enqueueWriteBack(t.db, tk, `n-${tag}-2`, { kind: 'watchers', adminCcGroup: `NoSuchGroup${tag}` });
    await enqueueWriteBack(t.db, tk, `n-${tag}-3`, { kind: 'fields', fields: { RepoStatus: 'Unverified' } });
    expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 3, failed: 0 });
    const res = await rt.client.session.request<{ AdminCc?: { type: string; id: string }[] }>({ method: 'GET', path: `/ticket/${tk}` });
    const groupIds = (res.data.AdminCc ?? []).filter((m) => m.type === 'group').map((m) => m.id);
    expect(groupIds).toHaveLength(1);
    const g = await rt.client.session.request<{ Name: string }>({ method: 'GET', path: `/group/${groupIds[0]}` });
    expect(g.data.Name).toBe('TechnologyUnit');
    const refused = (await rt.client.textParts(tk)).filter((c) => c.includes(markerLine(`n-${tag}-2`)));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain(`could not add the group NoSuchGroup${tag} as AdminCc`);
    expect(refused[0]).toMatch(/What to do: .*NOTICE_GROUPS/s);
    expect((await rt.getTicket(tk)).customFields.RepoStatus).toEqual(['Unverified']);
  });

  it("RT refusing the service's writes holds them, coded, in /healthz; the first write RT takes again sends them", async () => {
    const tag = Date.now();
    const proxy = await startRtCookieProxy(RT_URL);
    try {
      const refusing = new RtHelpdesk(new RtClient({ baseUrl: proxy.url, token: rtTokens().releasedesk }));
      await enqueueWriteBack(t.db, ticket, `r-${tag}-1`, { kind: 'fields', fields: { RepoStatus: 'StageRollOut' } });
      await enqueueWriteBack(t.db, ticket, `r-${tag}-2`, { kind: 'comment', text: `held ${tag}` });
      await checkWritesAccepted(t.db);
      await refusing.getTicket(ticket); // the session the proxy puts on writes
      expect(await deliverDue(t.db, refusing, log, { refusedRetryMs: 600_000 })).toEqual({ delivered: 0, failed: 1 });
      const head = await t
        .db('outbox')
        .where({ marker: `r-${tag}-1` })
        .first();
      expect(head).toMatchObject({ last_code: 'RD_HELPDESK_WRITE_REFUSED', delivered_at: null, attempts: 1 });
      expect(head.last_error).toContain('Cross-site request forgery protection refused this request');
      // held, not retried at the pace of an RT that is away (that would be 1 s)
      expect(new Date(head.next_attempt_at).getTime() - Date.now()).toBeGreaterThan(25_000);
      await expect(checkWritesAccepted(t.db)).rejects.toThrow(
        /^RT refuses the service's writes: 2 write-back\(s\) on 1 ticket\(s\) held since .*; last: \[RD_HELPDESK_WRITE_REFUSED\] RT refuses the service's writes: RT answered 403 to POST/,
      );
      expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 0, failed: 0 });

      // RT takes writes again (here: without the proxy): another ticket's write-back goes through and releases the held ones
      const other = await rtClient('provider1').createTicket({ subject: `outbox other ${tag}`, requestor: 'provider1', content: 'x' });
      await enqueueWriteBack(t.db, other, `r-${tag}-3`, { kind: 'fields', fields: { RepoStatus: 'Unverified' } });
      expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 1, failed: 0 });
      expect(await deliverDue(t.db, rt, log)).toEqual({ delivered: 2, failed: 0 });
      await checkWritesAccepted(t.db);
      expect((await rt.getTicket(ticket)).customFields.RepoStatus).toEqual(['StageRollOut']);
      expect((await ours()).filter((c) => c.includes(`held ${tag}`))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
