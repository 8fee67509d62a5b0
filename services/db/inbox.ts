/**
 * The inbox: one row per RepoAction change received (webhook, reconciler, backfill, retry), unique per
 * ticket and RT transaction, so that a change delivered twice is acted on once.
 */
import type { Db, Exec } from './knex.ts';

export interface InboxEvent {
  ticketId: number;
  transactionId: number;
  event: string;
  action: string | null;
  oldValue: string | null;
  actorName: string;
  source: 'webhook' | 'reconciler' | 'retry' | 'backfill';
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
  retry_of: number | null;
  outcome: string | null;
  received_at: Date;
  enqueued_at: Date | null;
}

/** What the intake needs of a row it inserted: enough to answer and to name the job. */
export type InboxReceipt = Pick<InboxRow, 'id' | 'ticket_id' | 'transaction_id' | 'received_at'>;

/** Inserts once per (ticket, transaction); returns null for a duplicate delivery. */
export async function insertEvent(db: Db, e: InboxEvent): Promise<InboxRow | null> {
  return (await insertReturning<InboxRow>(db, [e], '*'))[0]!;
}

/**
 * Many events in one statement and one commit (the webhook batches concurrent deliveries): each gets its
 * receipt, or null when the inbox already had its (ticket, transaction) or an earlier event of the batch did.
 */
export const insertEvents = (db: Db, events: readonly InboxEvent[]): Promise<Array<InboxReceipt | null>> =>
  insertReturning<InboxReceipt>(db, events, 'id, ticket_id, transaction_id, received_at');

/**
 * The batch travels as one jsonb parameter: the statement's text is the same for any batch size (nothing
 * to build or bind per event), and the rows come back without their payload, which the caller already has.
 */
async function insertReturning<R extends InboxReceipt>(db: Db, events: readonly InboxEvent[], returning: string): Promise<Array<R | null>> {
  const key = (ticket: number, txn: number) => `${ticket}:${txn}`;
  const firsts = new Map<string, InboxEvent>();
  for (const e of events) if (!firsts.has(key(e.ticketId, e.transactionId))) firsts.set(key(e.ticketId, e.transactionId), e);
  const batch = [...firsts.values()].map((e) => ({
    ticket_id: e.ticketId,
    transaction_id: e.transactionId,
    event: e.event,
    action: e.action,
    old_value: e.oldValue,
    actor_name: e.actorName,
    source: e.source,
    payload: e.payload,
  }));
  const { rows } = await db.raw(
    `INSERT INTO inbox (ticket_id, transaction_id, event, action, old_value, actor_name, source, payload)
     SELECT * FROM jsonb_to_recordset(?::jsonb) AS e(ticket_id integer, transaction_id bigint, event text, action text,
       old_value text, actor_name text, source text, payload jsonb)
     ON CONFLICT (ticket_id, transaction_id) WHERE retry_of IS NULL DO NOTHING RETURNING ${returning}`,
    [JSON.stringify(batch)],
  );
  const inserted = new Map((rows as R[]).map((r) => [key(Number(r.ticket_id), Number(r.transaction_id)), r]));
  return events.map((e) =>
    firsts.get(key(e.ticketId, e.transactionId)) === e ? (inserted.get(key(e.ticketId, e.transactionId)) ?? null) : null,
  );
}

/** A new event for the transaction of an earlier one whose action failed: `releasedesk retry`. */
export async function insertRetry(db: Db, of: InboxRow): Promise<InboxRow> {
  const [row] = await db('inbox')
    .insert({
      ticket_id: of.ticket_id,
      transaction_id: of.transaction_id,
      event: of.event,
      action: of.action,
      old_value: of.old_value,
      actor_name: of.actor_name,
      source: 'retry',
      payload: JSON.stringify({ retryOf: of.id }),
      retry_of: of.id,
    })
    .returning('*');
  return row as InboxRow;
}

// the ids as one array parameter: a hand-over of hundreds of rows binds one value, not hundreds
export const markEnqueued = (db: Db, id: number | readonly number[]) =>
  db('inbox')
    .whereRaw('id = ANY(?::bigint[])', [typeof id === 'number' ? [id] : [...id]])
    .update({ enqueued_at: db.fn.now() });

/** Pending events of one ticket, oldest transaction first: the order in which they must take effect. */
export const pendingForTicket = (db: Db, ticketId: number): Promise<InboxRow[]> =>
  db('inbox')
    .where({ ticket_id: ticketId, state: 'pending' })
    .orderBy([
      { column: 'transaction_id', order: 'asc' },
      { column: 'id', order: 'asc' },
    ]);

/** The newest RT transaction of the ticket whose event has been handled (taken, refused or ignored). */
export async function lastHandledTransaction(db: Db, ticketId: number): Promise<number> {
  const [r] = await db('inbox').where({ ticket_id: ticketId }).whereNot({ state: 'pending' }).max({ m: 'transaction_id' });
  return Number(r?.m ?? 0);
}

export const getInbox = (db: Db, id: number): Promise<InboxRow | undefined> => db('inbox').where({ id }).first();

/** Takes part in the caller's transaction when given one (an action's end is one transaction). */
export async function finishEvent(db: Exec, id: number, state: 'done' | 'ignored' | 'failed', outcome: string): Promise<void> {
  await db('inbox')
    .where({ id, state: 'pending' })
    .update({ state, outcome: outcome.slice(0, 400), finished_at: db.fn.now() });
}

/** Whether the ticket has an event still to handle. */
export const hasPending = async (db: Db, ticketId: number): Promise<boolean> =>
  Boolean(await db('inbox').where({ ticket_id: ticketId, state: 'pending' }).first());

/** Which of these events are still pending. */
export async function pendingAmong(db: Db, ids: number[]): Promise<number[]> {
  return (await db('inbox').whereIn('id', ids).where({ state: 'pending' }).select('id')).map((r) => r.id);
}

/**
 * Pending rows whose job may be missing (never handed over, or lost by Redis, which keeps nothing on disk):
 * those never checked once received graceMs ago, those checked once checked staleMs ago.
 */
export const staleEvents = (db: Db, ages: { graceMs: number; staleMs: number }, limit = 500): Promise<InboxRow[]> => {
  const before = (ms: number) => new Date(Date.now() - ms);
  return db('inbox')
    .where({ state: 'pending' })
    .andWhere((q) =>
      q
        .where((n) => n.whereNull('enqueued_at').andWhere('received_at', '<=', before(ages.graceMs)))
        .orWhere('enqueued_at', '<', before(ages.staleMs)),
    )
    .orderBy('id')
    .limit(limit);
};
