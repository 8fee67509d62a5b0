/**
 * Duplicates and disorder: RT's own signed deliveries of real RepoAction changes, each sent many times
 * and in random order, concurrently. Every action must take effect once, in transaction order per ticket.
 * FAULTS_SCALE=n multiplies tickets and deliveries (npm run test:chaos).
 */
import { describe, expect, it } from 'vitest';
import { comments, openTicket, rpmSpec, useE2E, waitForStatus } from '../support/e2e.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';
import { pointWebhookAt, rtClient, startWebhookReceiver, type Delivery } from '../support/rt.ts';
import { E2E_SECRET } from '../support/service.ts';

const scale = Number(process.env.FAULTS_SCALE ?? 1);
const TICKETS = 8 * scale;
const DELIVERIES = 1000 * scale;
const e = useE2E({ WORKER_CONCURRENCY: '4' });

/** A deterministic shuffle, so a failing order can be replayed (the seed is printed). */
function shuffle<T>(xs: T[], seed: number): T[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function post(url: string, d: Delivery): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(d.raw),
    headers: { 'content-type': String(d.headers['content-type']), 'x-rt-signature': String(d.headers['x-rt-signature']) },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('duplicated and reordered webhook deliveries', () => {
  it(`${DELIVERIES} deliveries of ${TICKETS * 3} real RT changes: each action once, in transaction order`, async () => {
    // RT's scrip posts to a recorder while people act, so nothing reaches the service yet
    const recorder = await startWebhookReceiver(E2E_SECRET);
    const hook = await pointWebhookAt(recorder.url, E2E_SECRET);
    const tug1 = rtClient('tug1');
    const rollout1 = rtClient('rollout1');
    const tickets: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: TICKETS }, async (_, i) => {
          const t = await openTicket(e, releaseXml({ product: `TESTTP.dup${i}.${e.run}`, packages: [rpmSpec(e, 'testpkg')] }), `dup ${i}`);
          tickets.push(t);
          await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
          await tug1.setCustomFields(t, { RepoAction: 'MoveToStageRollOut' });
          await rollout1.setCustomFields(t, { RepoAction: 'MoveToProduction' });
        }),
      );
      const want = TICKETS * 3;
      await recorder.waitFor(() => recorder.deliveries.filter((d) => d.body.event === 'customfield.changed').length >= want, 60_000);
    } finally {
      await hook.restore();
      await recorder.close();
    }
    const originals = recorder.deliveries.filter(
      (d) => d.body.event === 'customfield.changed' && tickets.includes(Number(d.body.ticket_id)),
    );
    expect(originals).toHaveLength(TICKETS * 3);
    expect(originals.every((d) => d.signatureValid)).toBe(true);

    const seed = Date.now() % 2 ** 31;
    console.log(`duplicates: shuffle seed ${seed}`);
    const sends = shuffle(
      Array.from({ length: DELIVERIES }, (_, i) => originals[i % originals.length]!),
      seed,
    );
    const answers = new Map<number, number>();
    for (let i = 0; i < sends.length; i += 25) {
      const codes = await Promise.all(sends.slice(i, i + 25).map((d) => post(e.svc.webhookUrl, d)));
      for (const c of codes) answers.set(c, (answers.get(c) ?? 0) + 1);
    }
    // every delivery is accepted: the first of each as queued (202), the rest as duplicates (200)
    expect([...answers.keys()].sort()).toEqual(expect.arrayContaining([200]));
    expect([...answers.keys()].every((c) => c === 200 || c === 202)).toBe(true);

    for (const t of tickets) expect(await waitForStatus(e, t, ['Production'], 180_000), `ticket ${t}`).toBe('Production');

    const txnOf = new Map(originals.map((d) => [`${d.body.ticket_id}:${d.body.new_value}`, Number(d.body.transaction_id)]));
    for (const t of tickets) {
      const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
      expect(
        tr.map((r) => [r.action, r.outcome]),
        `ticket ${t}`,
      ).toEqual([
        ['MoveToUnverified', 'ok'],
        ['MoveToStageRollOut', 'ok'],
        ['MoveToProduction', 'ok'],
      ]);
      expect(tr.map((r) => Number(r.transaction_id))).toEqual(
        ['MoveToUnverified', 'MoveToStageRollOut', 'MoveToProduction'].map((a) => txnOf.get(`${t}:${a}`)),
      );
      // ran one after the other, never overlapping
      for (let i = 1; i < tr.length; i++)
        expect(new Date(tr[i].started_at).getTime()).toBeGreaterThanOrEqual(new Date(tr[i - 1].finished_at).getTime());
      const inbox = await e.svc.db('inbox').where({ ticket_id: t });
      expect(inbox).toHaveLength(3);
      expect(inbox.every((r) => r.state === 'done')).toBe(true);
    }
    // write-backs once: three comments per ticket, once the outbox is drained
    const drained = Date.now() + 60_000;
    while (Number((await e.svc.db('outbox').whereNull('delivered_at').count({ n: '*' }))[0]!.n) > 0 && Date.now() < drained) {
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const t of tickets) expect((await comments(e, t)).length, `comments on ${t}`).toBe(3);
    const revisions = await e.svc.db('releases').whereIn('ticket_id', tickets).pluck('revision');
    expect(revisions.every((r: number) => r === 1)).toBe(true); // one product each, one revision each
    const product = `TESTTP.dup0.${e.run}`;
    expect((await checkYumRepo(`${e.svc.url}/repos/production/${product}/`, 'testpkg')).code).toBe(0);
    expect((await fetch(`${e.svc.url}/healthz`)).status).toBe(200);
  }, 600_000);
});
