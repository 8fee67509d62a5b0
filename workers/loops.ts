import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../services/db/knex.ts';
import { markEnqueued, pendingAmong, staleEvents } from '../services/db/inbox.ts';
import { lockKeys, lockSession, tryLock, unlock } from '../services/db/locks.ts';
import { deliverDue, pendingCount, type PeerStatusSender } from '../services/helpdesk/outbox.ts';
import type { Helpdesk } from '../services/helpdesk/port.ts';
import type { Logger } from '../services/log.ts';
import type { Metrics } from '../services/metrics.ts';
import { jobIdOf, type ActionQueue } from '../services/queue.ts';

export interface Loop {
  stop(): Promise<void>;
  /** runs a tick as soon as the one running is over, without waiting for the interval */
  kick(): void;
}

/** Runs `tick` every `ms` while holding a PostgreSQL try-lock, so only one process does it at a time. */
export function every(db: Db, name: string, ms: number, log: Logger, tick: () => Promise<void>, immediate = false): Loop {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  // the loop's own session, kept between ticks; lost (PostgreSQL restarted), the next tick opens another
  let session: Awaited<ReturnType<typeof lockSession>> | null = null;
  const run = async () => {
    let got = false;
    try {
      session ??= await lockSession(db);
      got = await tryLock(session, lockKeys.loop(name));
      if (got) await tick();
    } catch (e) {
      if (!got) {
        await session?.end().catch(() => undefined);
        session = null;
      }
      throw e;
    } finally {
      if (got && session)
        await unlock(session, lockKeys.loop(name)).catch(async () => {
          await session?.end().catch(() => undefined);
          session = null;
        });
    }
  };
  const schedule = () => {
    if (stopped) return;
    running = running.then(run).catch((err) => log.warn({ loop: name, err: String(err?.message ?? err) }, 'loop tick failed'));
  };
  let kicked = false;
  const timer = setInterval(schedule, ms);
  if (immediate) schedule();
  return {
    kick: () => {
      if (stopped || kicked) return;
      kicked = true; // kicks while one waits are that one
      running = running
        .then(() => {
          kicked = false;
        })
        .then(run)
        .catch((err) => log.warn({ loop: name, err: String(err?.message ?? err) }, 'loop tick failed'));
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
      await session?.end().catch(() => undefined);
    },
  };
}

/** Write-backs to the helpdesk (and statuses to the desks releases were imported from), retried until taken. */
export const outboxLoop = (
  db: Db,
  rt: Helpdesk,
  log: Logger,
  metrics: Metrics,
  ms: number,
  refusedRetryMs?: number,
  peers?: PeerStatusSender,
) =>
  every(db, 'outbox', ms, log, async () => {
    await deliverDue(db, rt, log, { refusedRetryMs, peers });
    metrics.outboxPending.set(await pendingCount(db));
  });

/** Scratch of actions that are over (a worker killed mid-action never ran its own clean-up). */
export async function sweepScratch(db: Db, storageDir: string, log: Logger): Promise<number> {
  const dir = path.join(storageDir, 'tmp');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^inbox-\d+$/.test(n));
  if (!names.length) return 0;
  const pending = new Set(
    (
      await pendingAmong(
        db,
        names.map((n) => Number(n.slice(6))),
      )
    ).map((id) => `inbox-${id}`),
  );
  let removed = 0;
  for (const n of names.filter((x) => !pending.has(x))) {
    await rm(path.join(dir, n), { recursive: true, force: true });
    removed++;
  }
  if (removed) log.info({ removed }, 'removed scratch of finished actions');
  return removed;
}

/**
 * Redis keeps nothing on disk: a restart forgets every job, those enqueued a moment ago included. The relay
 * keeps a mark in Redis; while it is missing (a new Redis, or a restarted or flushed one) every pending
 * event is checked at once rather than after its RelayAges, and the mark is set once that was done.
 */
async function redisForgot(queue: ActionQueue): Promise<{ forgot: boolean; remember: () => Promise<unknown> }> {
  const client = await queue.queue.getBackend().client;
  const mark = queue.queue.toKey('relay-mark');
  return { forgot: (await client.get(mark)) === null, remember: () => client.set(mark, new Date().toISOString()) };
}

/**
 * How long a received event may stay pending before the relay checks that its job exists. The webhook hands
 * rows over in milliseconds and marks none (services/intake.ts), so this is also how late a hand-over that
 * failed while Redis kept its jobs is made good.
 */
export const HAND_OVER_GRACE_MS = 10_000;
export interface RelayAges {
  /** an event never checked, this long after it was received */
  graceMs: number;
  /** an event checked before, this long after that check */
  staleMs: number;
}
const RELAY_AGES: RelayAges = { graceMs: HAND_OVER_GRACE_MS, staleMs: 60_000 };

/** Sets the relay's mark: Redis holds the jobs of every pending event (tests, to see the grace apply). */
export const markRedisChecked = async (queue: ActionQueue) => (await redisForgot(queue)).remember();

/** Events persisted but never enqueued (Redis was away) or whose job Redis lost: hand them over again. */
export async function relayOnce(db: Db, queue: ActionQueue, log: Logger, storageDir: string, ages = RELAY_AGES): Promise<number> {
  await sweepScratch(db, storageDir, log);
  const redis = await redisForgot(queue);
  if (redis.forgot) log.info('Redis is new or was restarted or flushed: checking the job of every pending event');
  let n = 0;
  for (const row of await staleEvents(db, redis.forgot ? { graceMs: 0, staleMs: 0 } : ages)) {
    const job = await queue.queue.getJob(jobIdOf(row));
    const state = job ? await job.getState() : 'missing';
    if (state === 'missing' || state === 'completed' || state === 'failed' || state === 'unknown') {
      if (job) await job.remove().catch(() => undefined);
      await queue.enqueue(row);
      n++;
      log.info({ ticket: row.ticket_id, inbox: row.id, state }, 're-enqueued');
    }
    await markEnqueued(db, row.id);
  }
  if (redis.forgot) await redis.remember();
  return n;
}

export const relayLoop = (db: Db, queue: ActionQueue, log: Logger, ms: number, storageDir: string) =>
  every(db, 'relay', ms, log, async () => {
    await relayOnce(db, queue, log, storageDir);
  });
