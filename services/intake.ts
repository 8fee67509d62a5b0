import type { RtWebhookV1 } from '../schemas/webhook-rt.v1.ts';
import type { Db } from './db/knex.ts';
import { insertEvent, markEnqueued, type InboxRow } from './db/inbox.ts';
import type { Logger } from './log.ts';
import type { ActionQueue } from './queue.ts';

export type IntakeResult = { outcome: 'queued'; row: InboxRow } | { outcome: 'duplicate' } | { outcome: 'ignored'; why: string };

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
 * Persist first, then enqueue. If enqueueing fails the row stays un-enqueued and the relay picks it up,
 * so an accepted event is never lost.
 */
export async function accept(deps: IntakeDeps, ev: RtWebhookV1, source: 'webhook' | 'reconciler'): Promise<IntakeResult> {
  const field = deps.actionField ?? 'RepoAction';
  if (ev.field !== field) return { outcome: 'ignored', why: `field ${ev.field} is not ${field}` };
  if (ev.queue !== deps.rtQueue) return { outcome: 'ignored', why: `queue ${ev.queue} is not ${deps.rtQueue}` };
  if (ev.actor.name === deps.rtUser) return { outcome: 'ignored', why: 'made by the service itself' };
  const row = await insertEvent(deps.db, {
    ticketId: ev.ticket_id, transactionId: ev.transaction_id, event: ev.event, action: ev.new_value,
    oldValue: ev.old_value, actorName: ev.actor.name, source, payload: ev,
  });
  if (!row) return { outcome: 'duplicate' };
  // Persisted is accepted: RT waits for our answer inside the user's update, so the hand-over to the
  // queue happens after it. A failed hand-over leaves enqueued_at empty for the relay.
  const handOver = deps.queue.enqueue(row).then(
    () => markEnqueued(deps.db, row.id),
    (e) => deps.log.warn({ err: e, ticket: row.ticket_id, inbox: row.id }, 'enqueue failed; the relay will retry'),
  );
  if (!deps.answerBeforeEnqueue) await handOver;
  return { outcome: 'queued', row };
}
