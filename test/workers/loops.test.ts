import { webhookEvent } from '../support/inbox.ts';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../services/log.ts';
import { ActionQueue, jobIdOf, redisConnection } from '../../services/queue.ts';
import { every, markRedisChecked, relayOnce } from '../../workers/loops.ts';
import { uniquePrefix } from '../support/app.ts';
import { useTestDb } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/env.ts';

const t = useTestDb();
const log = createLogger('silent');
let queue: ActionQueue;
let storage: string;
beforeAll(async () => {
  queue = new ActionQueue(redisConnection(TEST_REDIS_URL), uniquePrefix('relay'));
  await queue.queue.waitUntilReady();
  storage = await mkdtemp(path.join(tmpdir(), 'rd-relay-'));
});
afterAll(async () => {
  await queue.queue.obliterate({ force: true });
  await queue.close();
  await rm(storage, { recursive: true, force: true });
});

const event = (transactionId: number) => webhookEvent(t.db, 7, transactionId);

describe('the relay', () => {
  it('hands over events that were persisted but never enqueued, and those whose job Redis lost', async () => {
    await markRedisChecked(queue); // Redis kept its jobs
    const never = (await event(1))!;
    const lost = (await event(2))!;
    await t
      .db('inbox')
      .where({ id: lost.id })
      .update({ enqueued_at: new Date(Date.now() - 120_000) });
    const fine = (await event(3))!;
    await queue.enqueue(fine);
    await t
      .db('inbox')
      .where({ id: fine.id })
      .update({ enqueued_at: new Date(Date.now() - 120_000) });
    // rows received a moment ago are the hand-over's: the relay checks them once HAND_OVER_GRACE_MS passed
    expect(await relayOnce(t.db, queue, log, storage)).toBe(1);
    expect(await queue.queue.getJob(jobIdOf(never))).toBeUndefined();
    expect(await relayOnce(t.db, queue, log, storage, { graceMs: 0, staleMs: 60_000 })).toBe(1);
    for (const r of [never, lost, fine]) expect(await queue.queue.getJob(jobIdOf(r))).toBeDefined();
    expect(await t.db('inbox').whereNull('enqueued_at')).toEqual([]);
    // a second pass finds nothing to do
    expect(await relayOnce(t.db, queue, log, storage)).toBe(0);
  });

  it('removes the scratch of finished actions and keeps that of pending ones', async () => {
    const done = (await event(10))!;
    const pending = (await event(11))!;
    await t.db('inbox').where({ id: done.id }).update({ state: 'done' });
    for (const r of [done, pending]) await mkdir(path.join(storage, 'tmp', `inbox-${r.id}`, 'bundle'), { recursive: true });
    await relayOnce(t.db, queue, log, storage);
    expect(await readdir(path.join(storage, 'tmp'))).toEqual([`inbox-${pending.id}`]);
  });
});

describe('a loop', () => {
  it('runs a tick at once when kicked, and kicks while one is running make one more tick, not one each', async () => {
    let ticks = 0;
    let release: () => void = () => undefined;
    const loop = every(t.db, `kick-${Date.now()}`, 600_000, log, async () => {
      ticks++;
      if (ticks === 1)
        await new Promise<void>((r) => {
          release = r;
        });
    });
    const settled = async (n: number) => {
      for (let i = 0; i < 200 && ticks < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    loop.kick();
    await settled(1);
    expect(ticks).toBe(1);
    for (let i = 0; i < 5; i++) loop.kick();
    release();
    await settled(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(ticks).toBe(2);
    await loop.stop();
  });
});

describe('job ids', () => {
  it('a recreated database reusing row ids still gets its events run (Redis remembers old completed jobs)', async () => {
    const old = (await event(20))!;
    await queue.enqueue(old);
    const job = await queue.queue.getJob(jobIdOf(old));
    await job!.moveToCompleted('done', '0', false).catch(() => undefined); // a previous life of this row id
    await t.db.raw('TRUNCATE inbox RESTART IDENTITY CASCADE');
    const fresh = (await event(21))!;
    expect(fresh.id).toBe(old.id);
    await queue.enqueue(fresh);
    expect(await (await queue.queue.getJob(jobIdOf(fresh)))!.getState()).toBe('waiting');
  });
});
