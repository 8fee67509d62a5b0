import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../../services/api/signature.ts';
import { jobIdOf } from '../../../services/queue.ts';
import { useTestDb } from '../../support/db.ts';
import { startApp, TEST_SECRET } from '../../support/app.ts';

const t = useTestDb();
let app: Awaited<ReturnType<typeof startApp>>;
beforeAll(async () => {
  app = await startApp(t.db);
});
afterAll(async () => {
  await app?.close();
});

/** The hand-over to the queue follows the 202: wait until the queue holds the job. */
async function handedOver() {
  const jobs = async () => Object.values(await app.queue.queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized'));
  for (let i = 0; i < 100 && (await jobs()).every((n) => n === 0); i++) await new Promise((r) => setTimeout(r, 20));
}

const countInbox = async () => Number((await t.db('inbox').count({ n: '*' }))[0]!.n);

const event = (over: Record<string, unknown> = {}) => ({
  event: 'customfield.changed',
  ticket_id: 123,
  queue: 'Releases',
  subject: 'Release x',
  transaction_id: 456,
  field: 'RepoAction',
  field_id: 2,
  old_value: null,
  new_value: 'MoveToUnverified',
  actor: { id: 33, name: 'alice' },
  created: new Date().toISOString(),
  rt_url: 'http://127.0.0.1:8085',
  ...over,
});

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/webhooks/rt`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, TEST_SECRET), ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /webhooks/rt', () => {
  it('refuses a body whose transaction time is far from now (a replay), naming the field; nothing is stored', async () => {
    const old = new Date(Date.now() - 11 * 60_000).toISOString();
    const r = await post(JSON.stringify(event({ created: old })));
    expect(r).toMatchObject({
      status: 400,
      body: { error: 'RD_WEBHOOK_STALE', field: 'created', next: expect.stringContaining('reconciler') },
    });
    expect(r.body.message).toMatch(new RegExp(`^created: ${old} is 6\\d\\d s ago; deliveries are taken within 600 s$`));
    const ahead = await post(JSON.stringify(event({ created: new Date(Date.now() + 11 * 60_000).toISOString() })));
    expect(ahead).toMatchObject({ status: 400, body: { error: 'RD_WEBHOOK_STALE' } });
    expect(ahead.body.message).toMatch(/ahead of this server's clock/);
    expect(await countInbox()).toBe(0);
    // within the window, a few minutes off either way (clocks differ), it is taken
    expect((await post(JSON.stringify(event({ created: new Date(Date.now() - 9 * 60_000).toISOString() })))).status).toBe(202);
  });

  it('persists a signed RepoAction change, enqueues one job and answers 202', async () => {
    const r = await post(JSON.stringify(event()));
    expect(r).toMatchObject({ status: 202, body: { status: 'queued' } });
    await handedOver();
    const rows = await t.db('inbox').select();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ticket_id: 123, transaction_id: 456, action: 'MoveToUnverified', state: 'pending', source: 'webhook' });
    const job = await app.queue.queue.getJob(jobIdOf(rows[0]));
    expect(job?.data).toEqual({ v: 1, ticketId: 123, inboxId: rows[0].id, exclusive: ['ticket:123'] });
  });

  it('answers 200 duplicate for the same ticket + transaction and makes no second job', async () => {
    const body = JSON.stringify(event());
    expect((await post(body)).status).toBe(202);
    const jobs = () => app.queue.queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized');
    await handedOver();
    const before = await jobs();
    expect(await post(body)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await countInbox()).toBe(1);
    expect(await jobs()).toBe(before);
  });

  it('ignores other fields, other queues and the service user with 202 and writes nothing', async () => {
    for (const over of [{ field: 'RepoStatus' }, { queue: 'General' }, { actor: { id: 9, name: 'releasedesk' } }]) {
      const r = await post(JSON.stringify(event(over)));
      expect(r).toMatchObject({ status: 202, body: { status: 'ignored' } });
    }
    expect(await countInbox()).toBe(0);
  });

  it('refuses a missing signature with 401', async () => {
    const r = await post(JSON.stringify(event()), { 'x-rt-signature': '' });
    expect(r).toMatchObject({ status: 401, body: { error: 'RD_SIGNATURE_MISSING' } });
  });

  it('refuses a forged signature with 401 and persists nothing', async () => {
    const body = JSON.stringify(event());
    const r = await post(body, { 'x-rt-signature': sign(body, 'another-secret-0123456789') });
    expect(r).toMatchObject({ status: 401, body: { error: 'RD_SIGNATURE_INVALID' } });
    const tampered = await post(body.replace('456', '457'), { 'x-rt-signature': sign(body, TEST_SECRET) });
    expect(tampered.status).toBe(401);
    expect(await countInbox()).toBe(0);
  });

  it('answers 400 for malformed JSON', async () => {
    const r = await post('{"event": ');
    expect(r).toMatchObject({ status: 400, body: { error: 'RD_PAYLOAD_INVALID' } });
    expect(String(r.body.message)).toMatch(/not JSON/);
  });

  it('answers 400 naming the bad field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ticket_id: 'abc' }, 'ticket_id'],
      [{ transaction_id: -1 }, 'transaction_id'],
      [{ event: 'ticket.deleted' }, 'event'],
      [{ actor: { id: 1 } }, 'actor.name'],
      [{ created: 'yesterday' }, 'created'],
    ];
    for (const [over, field] of cases) {
      const r = await post(JSON.stringify(event(over)));
      expect(r.status, field).toBe(400);
      expect(r.body.field).toBe(field);
    }
    expect(await countInbox()).toBe(0);
  });

  it('answers 413 over 64 KiB', async () => {
    const r = await post(JSON.stringify(event({ subject: 'x'.repeat(70 * 1024) })));
    expect(r).toMatchObject({ status: 413, body: { error: 'RD_PAYLOAD_TOO_LARGE' } });
  });

  it('answers 415 for a signed body that is not JSON-typed', async () => {
    const r = await post(JSON.stringify(event()), { 'content-type': 'text/plain' });
    expect(r).toMatchObject({ status: 415, body: { error: 'RD_UNSUPPORTED_MEDIA' } });
  });

  it('answers 415 for a compressed body, naming the encoding; nothing is stored', async () => {
    const r = await post(JSON.stringify(event()), { 'content-encoding': 'gzip' });
    expect(r).toMatchObject({ status: 415, body: { error: 'RD_UNSUPPORTED_MEDIA', message: expect.stringContaining('gzip') } });
    expect(await countInbox()).toBe(0);
  });

  it('answers 413 for a body sent in chunks past 64 KiB (no Content-Length to trust)', async () => {
    const body = JSON.stringify(event({ subject: 'x'.repeat(70 * 1024) }));
    const res = await fetch(`${app.url}/webhooks/rt`, {
      method: 'POST',
      body: new Blob([body]).stream(),
      duplex: 'half',
      headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, TEST_SECRET) },
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'RD_PAYLOAD_TOO_LARGE' });
  });

  it('takes the path with a trailing slash or a query as Express did, and leaves other methods to the router', async () => {
    for (const [suffix, txn] of [
      ['/', 7001],
      ['?from=rt', 7002],
    ] as const) {
      const body = JSON.stringify(event({ transaction_id: txn }));
      const res = await fetch(`${app.url}/webhooks/rt${suffix}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, TEST_SECRET) },
      });
      expect(res.status, suffix).toBe(202);
    }
    expect((await fetch(`${app.url}/webhooks/rt`)).status).toBe(404);
    expect((await fetch(`${app.url}/webhooks/rtx`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('keeps an event whose enqueue failed, un-enqueued, for the relay', async () => {
    const broken = await startApp(t.db);
    await broken.queue.close(); // this producer can no longer reach Redis
    const body = JSON.stringify(event({ transaction_id: 1000 }));
    const res = await fetch(`${broken.url}/webhooks/rt`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, TEST_SECRET) },
    });
    expect(res.status).toBe(202);
    const row = await t.db('inbox').where({ transaction_id: 1000 }).first();
    expect(row).toMatchObject({ state: 'pending', enqueued_at: null });
    expect(await broken.queue.queue.getJob(jobIdOf(row)).catch(() => undefined)).toBeUndefined();
    await broken.close().catch(() => undefined);
  });
});
