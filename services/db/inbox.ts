import type { Db } from './knex.ts';

export interface InboxEvent {
  ticketId: number;
  transactionId: number;
  event: string;
  action: string | null;
  oldValue: string | null;
  actorName: string;
  source: 'webhook' | 'reconciler';
  payload: unknown;
}

export interface InboxRow {
  id: number;
  ticket_id: number;
  transaction_id: number;
  event: string;
  action: string | null;
  old_value: string | null;
  actor_name: string | null;
  source: string;
  state: 'pending' | 'done' | 'ignored' | 'failed';
  outcome: string | null;
  received_at: Date;
  enqueued_at: Date | null;
}

/** Inserts once per (ticket, transaction); returns null for a duplicate delivery. */
export async function insertEvent(db: Db, e: InboxEvent): Promise<InboxRow | null> {
  const rows = await db('inbox')
    .insert({
      ticket_id: e.ticketId, transaction_id: e.transactionId, event: e.event, action: e.action,
      old_value: e.oldValue, actor_name: e.actorName, source: e.source, payload: JSON.stringify(e.payload),
    })
    .onConflict(['ticket_id', 'transaction_id']).ignore()
    .returning('*');
  return (rows[0] as InboxRow | undefined) ?? null;
}

export const markEnqueued = (db: Db, id: number) => db('inbox').where({ id }).update({ enqueued_at: db.fn.now() });

/** Pending events of one ticket, oldest transaction first: the order in which they must take effect. */
export const pendingForTicket = (db: Db, ticketId: number): Promise<InboxRow[]> =>
  db('inbox').where({ ticket_id: ticketId, state: 'pending' }).orderBy('transaction_id', 'asc');

export const getInbox = (db: Db, id: number): Promise<InboxRow | undefined> => db('inbox').where({ id }).first();

export async function finishEvent(db: Db, id: number, state: 'done' | 'ignored' | 'failed', outcome: string): Promise<void> {
  await db('inbox').where({ id, state: 'pending' }).update({ state, outcome: outcome.slice(0, 400), finished_at: db.fn.now() });
}

/** Rows persisted but never handed to the queue, or whose job vanished (Redis keeps nothing on disk). */
export const staleEvents = (db: Db, olderThanMs: number, limit = 500): Promise<InboxRow[]> =>
  db('inbox')
    .where({ state: 'pending' })
    .andWhere((q) => q.whereNull('enqueued_at').orWhere('enqueued_at', '<', new Date(Date.now() - olderThanMs)))
    .orderBy('id').limit(limit);
