import DataLoader from 'dataloader';
import type { RtWebhookV1 } from '../schemas/webhook-rt.v1.ts';
import type { Db } from './db/knex.ts';
import { insertEvents, type InboxEvent, type InboxReceipt } from './db/inbox.ts';
import type { Logger } from './log.ts';
import type { ActionQueue } from './queue.ts';
import { inFlightGate, type InFlightGate } from './in-flight.ts';

export type IntakeResult = { outcome: 'queued'; row: InboxReceipt } | { outcome: 'duplicate' } | { outcome: 'ignored'; why: string };

export interface IntakeDeps {
  db: Db;
  queue: ActionQueue;
  log: Logger;
  rtQueue: string;
  rtUser: string;
  actionField?: string;
  /** the webhook answers before the job is enqueued; the reconciler waits for it */
  answerBeforeEnqueue?: boolean;
}

/**
 * Concurrent deliveries share one INSERT (one commit) and one hand-over to Redis: at a few thousand
 * webhooks a second, a commit and a queue round trip per event is what limits the service. An INSERT goes
 * out at once while none is out, else with the next that comes back; the hand-over, which nobody waits for,
 * likewise, so that each carries as many rows as arrived meanwhile. On two cores shared with PostgreSQL and
 * Redis, one INSERT at a time took 15-25 % more webhooks a second than two (bigger batches, less work per
 * row; bench/RESULTS.md).
 */
const INSERTS_IN_FLIGHT = 1;
const HAND_OVERS_IN_FLIGHT = 1;
const BATCH_MAX = 500;
interface Batches {
  inserts: DataLoader<InboxEvent, InboxReceipt | null>;
  handOvers: DataLoader<InboxReceipt, true>;
}
const batchesOf = new WeakMap<IntakeDeps['db'], Map<ActionQueue, Batches>>();

function batches(deps: IntakeDeps): Batches {
  let byQueue = batchesOf.get(deps.db);
  if (!byQueue) {
    byQueue = new Map();
    batchesOf.set(deps.db, byQueue);
  }
  let b = byQueue.get(deps.queue);
  if (!b) {
    b = { inserts: insertLoader(deps), handOvers: handOverLoader(deps) };
    byQueue.set(deps.queue, b);
  }
  return b;
}

// not cached: every scheduled batch reaches its batch function, which tells the gate when it is back
const loaderOptions = (gate: InFlightGate) => ({ cache: false, maxBatchSize: BATCH_MAX, batchScheduleFn: gate.schedule });

function insertLoader(deps: IntakeDeps): Batches['inserts'] {
  const gate = inFlightGate(INSERTS_IN_FLIGHT);
  // one event PostgreSQL refuses must not fail the others of its batch: then each goes alone
  const insert = (events: readonly InboxEvent[]) =>
    insertEvents(deps.db, events).catch((e) =>
      events.length === 1
        ? Promise.reject(e)
        : Promise.all(
            events.map((ev) =>
              insertEvents(deps.db, [ev]).then(
                ([r]) => r!,
                (err: Error) => err,
              ),
            ),
          ),
    );
  return new DataLoader((events) => gate.run(() => insert(events)), loaderOptions(gate));
}

function handOverLoader(deps: IntakeDeps): Batches['handOvers'] {
  const gate = inFlightGate(HAND_OVERS_IN_FLIGHT);
  // No row is marked as handed over here: that UPDATE rewrote every row and cost PostgreSQL 40 % of a
  // webhook's work, and the worker finishes most rows within seconds. The relay checks the job of each row
  // still pending after HAND_OVER_GRACE_MS instead (workers/loops.ts).
  const handOver = async (rows: readonly InboxReceipt[]) => {
    await deps.queue.enqueueMany(rows);
    return rows.map(() => true as const);
  };
  return new DataLoader((rows) => gate.run(() => handOver(rows)), loaderOptions(gate));
}

/**
 * Persist first, then enqueue. If enqueueing fails the row stays un-enqueued and the relay picks it up,
 * so an accepted event is never lost.
 */
export async function accept(deps: IntakeDeps, ev: RtWebhookV1, source: 'webhook' | 'reconciler'): Promise<IntakeResult> {
  const field = deps.actionField ?? 'RepoAction';
  if (ev.field !== field) return { outcome: 'ignored', why: `field ${ev.field} is not ${field}` };
  if (ev.queue !== deps.rtQueue) return { outcome: 'ignored', why: `queue ${ev.queue} is not ${deps.rtQueue}` };
  if (ev.actor.name === deps.rtUser) return { outcome: 'ignored', why: 'made by the service itself' };
  const b = batches(deps);
  const row = await b.inserts.load({
    ticketId: ev.ticket_id,
    transactionId: ev.transaction_id,
    event: ev.event,
    action: ev.new_value,
    oldValue: ev.old_value,
    actorName: ev.actor.name,
    source,
    payload: ev,
  });
  if (!row) return { outcome: 'duplicate' };
  // Persisted is accepted: RT waits for our answer inside the user's update, so the hand-over to the
  // queue happens after it. A failed hand-over is logged; the relay finds the row still pending.
  const handOver = b.handOvers.load(row).then(
    () => undefined,
    (e) => deps.log.warn({ err: e, ticket: row.ticket_id, inbox: row.id }, 'enqueue failed; the relay will retry'),
  );
  if (!deps.answerBeforeEnqueue) await handOver;
  return { outcome: 'queued', row };
}
