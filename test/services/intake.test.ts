/**
 * Intake batching against the real PostgreSQL and Redis: concurrent deliveries share one INSERT and one
 * hand-over, duplicates within a batch are told apart, and one event PostgreSQL refuses fails alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accept, type IntakeDeps } from '../../services/intake.ts';
import { createLogger } from '../../services/log.ts';
import { ActionQueue, jobIdOf, redisConnection } from '../../services/queue.ts';
import type { RtWebhookV1 } from '../../schemas/webhook-rt.v1.ts';
import { uniquePrefix } from '../support/app.ts';
import { useTestDb } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/env.ts';
import { markRedisChecked, relayOnce } from '../../workers/loops.ts';

const t = useTestDb();
let queue: ActionQueue;
let deps: IntakeDeps;
beforeAll(async () => {
  queue = new ActionQueue(redisConnection(TEST_REDIS_URL), uniquePrefix('intake'));
  deps = { db: t.db, queue, log: createLogger('silent'), rtQueue: 'Releases', rtUser: 'releasedesk' };
});
afterAll(async () => {
  await queue.queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
});

const ev = (ticket: number, txn: number, over: Partial<RtWebhookV1> = {}): RtWebhookV1 => ({
  event: 'customfield.changed',
  ticket_id: ticket,
  queue: 'Releases',
  subject: '',
  transaction_id: txn,
  field: 'RepoAction',
  field_id: 2,
  old_value: null,
  new_value: 'MoveToUnverified',
  actor: { id: 3, name: 'provider1' },
  created: '2026-11-21T10:00:00Z',
  rt_url: 'x',
  ...over,
});

describe('accept, many at once', () => {
  it('200 concurrent deliveries (50 events, each 4 times): 50 rows, 50 jobs, the rest duplicates', async () => {
    const sends = Array.from({ length: 200 }, (_, i) => ev(1 + (i % 50), 1000 + (i % 50)));
    const results = await Promise.all(sends.map((e) => accept(deps, e, 'webhook')));
    expect(results.filter((r) => r.outcome === 'queued')).toHaveLength(50);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(150);
    const rows = await t.db('inbox').orderBy('id');
    expect(rows).toHaveLength(50);
    // the hand-over marks no row: the relay checks the jobs of rows still pending after its grace
    expect(rows.every((r) => r.enqueued_at === null)).toBe(true);
    for (const r of rows) expect(await queue.queue.getJob(jobIdOf(r))).toBeDefined();
  });

  it('an event PostgreSQL refuses fails alone; the others of its batch are kept', async () => {
    // a payload jsonb cannot hold: what the edge validation keeps out, proven harmless here anyway
    const bad = { ...ev(7, 5000), subject: 'nul \u0000 inside' };
    const results = await Promise.allSettled([
      accept(deps, ev(7, 4999), 'webhook'),
      accept(deps, bad, 'webhook'),
      accept(deps, ev(8, 5001), 'webhook'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await t.db('inbox').whereIn('transaction_id', [4999, 5000, 5001]).pluck('transaction_id')).toEqual(
      expect.arrayContaining([4999, 5001]),
    );
    expect(await t.db('inbox').where({ transaction_id: 5000 }).first()).toBeUndefined();
  });

  it('while an INSERT is out, the deliveries that arrive meanwhile go together in the next one', async () => {
    const inserts: number[] = [];
    const count = (q: { sql: string; bindings?: unknown[] }) => {
      if (q.sql.startsWith('INSERT INTO inbox')) inserts.push((JSON.parse(String(q.bindings![0])) as unknown[]).length);
    };
    t.db.on('query', count);
    try {
      const first = Array.from({ length: 20 }, (_, i) => accept(deps, ev(20, 6000 + i), 'webhook'));
      // the first INSERT is out (both slots of the gate are free, so it went at once): these wait for it
      await new Promise((r) => setImmediate(r));
      const later: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i++) {
        later.push(accept(deps, ev(21, 7000 + i), 'webhook'));
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await Promise.all([...first, ...later]);
    } finally {
      t.db.off('query', count);
    }
    expect(inserts[0]).toBe(20);
    expect(inserts.reduce((a, b) => a + b, 0)).toBe(50);
    // 50 deliveries over four turns: far fewer statements than deliveries
    expect(inserts.length).toBeLessThanOrEqual(4);
  });
});

describe('accept, when the hand-over to Redis fails', () => {
  it('every row of the batch stays un-enqueued, answered as queued, and the relay hands them all over', async () => {
    const broken = new ActionQueue(redisConnection(TEST_REDIS_URL), uniquePrefix('intake-broken'));
    await broken.close(); // this producer can no longer reach Redis
    const brokenDeps = { ...deps, queue: broken };
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => accept(brokenDeps, ev(30 + i, 8000 + i), 'webhook')));
    expect(results.every((r) => r.outcome === 'queued')).toBe(true);
    const rows = await t.db('inbox').whereBetween('transaction_id', [8000, 8029]);
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.enqueued_at === null && r.state === 'pending')).toBe(true);

    const storage = await mkdtemp(path.join(tmpdir(), 'rd-intake-'));
    try {
      // within the grace the relay leaves them to the hand-over (once it knows Redis kept its jobs); after it,
      // it hands them over
      await markRedisChecked(queue);
      expect(await relayOnce(t.db, queue, createLogger('silent'), storage)).toBe(0);
      expect(await relayOnce(t.db, queue, createLogger('silent'), storage, { graceMs: 0, staleMs: 60_000 })).toBe(30);
    } finally {
      await rm(storage, { recursive: true, force: true });
    }
    for (const r of rows) expect(await queue.queue.getJob(jobIdOf(r))).toBeDefined();
    expect(await t.db('inbox').whereBetween('transaction_id', [8000, 8029]).whereNull('enqueued_at')).toEqual([]);
  });
});
