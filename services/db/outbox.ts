/**
 * The outbox: write-backs queued in the transaction that decided them, delivered later: to RT (the ticket's
 * fields, comments, watchers), or to the desk an imported release came from (its status there).
 */
import type { Db, Exec } from './knex.ts';

/** A file a comment carries to the ticket, its bytes in base64 (small: an evidence receipt). */
export interface Attachment {
  name: string;
  type: string;
  base64: string;
}

export type OutboxItem =
  | { kind: 'fields'; fields: Record<string, string> }
  | { kind: 'comment'; text: string; attachments?: Attachment[] }
  /** a hand-off notice: the group becomes an AdminCc watcher of the ticket */
  | { kind: 'watchers'; adminCcGroup: string }
  /** the release imported on this ticket reached `status`: told to the desk (PEERS) and ticket it came from */
  | { kind: 'peer-status'; peer: string; sourceTicket: number; status: string };

/** Where an item goes; order is kept per ticket and channel. */
export const channelOf = (item: OutboxItem) => (item.kind === 'peer-status' ? `peer:${item.peer}` : 'rt');

export interface OutboxRow {
  id: number;
  ticket_id: number;
  channel: string;
  marker: string;
  kind: OutboxItem['kind'];
  payload: OutboxItem;
  attempts: number;
}

/**
 * Queues a write-back inside the caller's transaction. The marker names the operation: the same marker
 * twice (a rerun after kill -9) is one write-back.
 */
export async function enqueueWriteBack(trx: Exec, ticketId: number, marker: string, item: OutboxItem): Promise<void> {
  await trx('outbox')
    .insert({ ticket_id: ticketId, channel: channelOf(item), marker, kind: item.kind, payload: JSON.stringify(item) })
    .onConflict('marker')
    .ignore();
}

/** The oldest undelivered write-back of each ticket and channel, when it is due: the later ones wait for it. */
export async function dueHeads(db: Db, limit: number): Promise<OutboxRow[]> {
  return (
    await db.raw(
      `
    SELECT * FROM (SELECT DISTINCT ON (ticket_id, channel) id, ticket_id, channel, marker, kind, payload, attempts, next_attempt_at
                     FROM outbox WHERE delivered_at IS NULL ORDER BY ticket_id, channel, id) heads
     WHERE next_attempt_at <= now() ORDER BY id LIMIT ?`,
      [limit],
    )
  ).rows;
}

/** The ticket's undelivered write-backs to one channel, oldest first. */
export function undelivered(db: Db, ticketId: number, channel: string, limit: number): Promise<OutboxRow[]> {
  return db('outbox').where({ ticket_id: ticketId, channel }).whereNull('delivered_at').orderBy('id').limit(limit);
}

/** Counted before the call; not tried again before `until` (the call may still be running until then). */
export async function markAttempt(db: Db, ids: number[], until: Date): Promise<void> {
  await db('outbox')
    .whereIn('id', ids)
    .update({ attempts: db.raw('attempts + 1'), next_attempt_at: until });
}

export async function markDelivered(db: Db, ids: number[]): Promise<void> {
  await db('outbox').whereIn('id', ids).update({ delivered_at: db.fn.now(), last_error: null, last_code: null });
}

export async function markFailed(db: Db, ids: number[], failure: { code: string | null; message: string; retryAt: Date }): Promise<void> {
  await db('outbox')
    .whereIn('id', ids)
    .update({ last_code: failure.code, last_error: failure.message.slice(0, 2000), next_attempt_at: failure.retryAt });
}

/** Write-backs held because RT refused with `code`: due now (RT took another write, so it takes writes again). */
export async function releaseHeld(db: Db, code: string): Promise<number> {
  return db('outbox')
    .whereNull('delivered_at')
    .where({ last_code: code })
    .where('next_attempt_at', '>', db.fn.now())
    .update({ next_attempt_at: db.fn.now() });
}

export interface HeldWriteBacks {
  count: number;
  tickets: number;
  since: Date;
  lastError: string;
}

/** The undelivered write-backs whose last attempt RT refused with one of `codes`; null when there are none. */
export async function heldWriteBacks(db: Db, codes: string[]): Promise<HeldWriteBacks | null> {
  const [agg] = await db('outbox')
    .whereNull('delivered_at')
    .whereIn('last_code', codes)
    .select(db.raw('count(*)::int AS count, count(DISTINCT ticket_id)::int AS tickets, min(created_at) AS since, max(id) AS newest'));
  if (!agg?.count) return null;
  const newest = await db('outbox').where({ id: agg.newest }).first('last_error');
  return { count: agg.count, tickets: agg.tickets, since: agg.since, lastError: newest?.last_error ?? '' };
}

export async function pendingCount(db: Db): Promise<number> {
  const [r] = await db('outbox').whereNull('delivered_at').count({ n: '*' });
  return Number(r?.n ?? 0);
}
