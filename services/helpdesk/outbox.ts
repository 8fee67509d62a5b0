import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Helpdesk } from './port.ts';

type Exec = Db | Knex.Transaction;

export type OutboxItem =
  | { kind: 'fields'; fields: Record<string, string> }
  | { kind: 'comment'; text: string }
  /** a hand-off notice: the group becomes an AdminCc watcher of the ticket */
  | { kind: 'watchers'; adminCcGroup: string };

/**
 * Queues a write-back inside the caller's transaction. The marker names the operation: the same marker
 * twice (a rerun after kill -9) is one write-back, and a comment carries it so a retry can tell that RT
 * already has it.
 */
export async function enqueueWriteBack(trx: Exec, ticketId: number, marker: string, item: OutboxItem): Promise<void> {
  await trx('outbox').insert({ ticket_id: ticketId, marker, kind: item.kind, payload: JSON.stringify(item) })
    .onConflict('marker').ignore();
}

export const markerLine = (marker: string) => `-- releasedesk op ${marker}`;

interface OutboxRow { id: number; ticket_id: number; marker: string; kind: string; payload: OutboxItem; attempts: number }

const backoffMs = (attempts: number) => Math.min(60_000, 500 * 2 ** Math.min(attempts, 7));

/**
 * How long a call to RT may still be running after the process that sent it died (the RT client gives up
 * on a call after 20 s). Until then that write-back is not retried and its ticket's later ones wait: RT
 * could otherwise take the dead call after the retry's check for it (a comment twice) or after a later
 * write-back (an older RepoStatus last).
 */
const IN_FLIGHT_MS = 20_000;

/**
 * Delivers due write-backs, oldest first and strictly in order per ticket: a ticket whose oldest row is
 * not yet due or fails waits, so RT never shows a later status before an earlier one.
 */
export async function deliverDue(db: Db, rt: Helpdesk, log: Logger, limit = 100): Promise<{ delivered: number; failed: number }> {
  const due: OutboxRow[] = (await db.raw(`
    SELECT * FROM (SELECT DISTINCT ON (ticket_id) id, ticket_id, marker, kind, payload, attempts, next_attempt_at
                     FROM outbox WHERE delivered_at IS NULL ORDER BY ticket_id, id) heads
     WHERE next_attempt_at <= now() ORDER BY id LIMIT ?`, [limit])).rows;
  let delivered = 0;
  let failed = 0;
  await Promise.all(due.map(async (head) => {
    for (let rows = await nextRun(db, head.ticket_id); rows.length; rows = await nextRun(db, head.ticket_id)) {
      const ids = rows.map((r) => r.id);
      const first = rows[0]!;
      try {
        // counted before the call: a process killed after RT accepted a comment must check for it next time,
        // and not before that call is surely over (a failure seen here reschedules it by the backoff, below)
        await db('outbox').whereIn('id', ids).update({
          attempts: db.raw('attempts + 1'), next_attempt_at: new Date(Date.now() + IN_FLIGHT_MS),
        });
        await deliverOne(rt, rows.length === 1 ? first : { ...first, payload: mergedFields(rows) });
        await db('outbox').whereIn('id', ids).update({ delivered_at: db.fn.now(), last_error: null });
        delivered += rows.length;
      } catch (e) {
        failed++;
        const msg = isRdError(e) ? `[${e.code}] ${e.message}` : String((e as Error).message ?? e);
        log.warn({ ticket: first.ticket_id, outbox: ids, attempts: first.attempts + 1, err: msg }, 'write-back failed; will retry');
        await db('outbox').whereIn('id', ids).update({
          last_error: msg.slice(0, 2000), next_attempt_at: new Date(Date.now() + backoffMs(first.attempts)),
        });
        return;
      }
    }
  }));
  return { delivered, failed };
}

/**
 * The ticket's oldest undelivered write-back; when it sets fields, with the field settings queued right
 * after it: RT busy or away, a job's Processing is still waiting when its final status is queued, and one
 * call writing what the last of them says leaves the ticket as all of them in turn would.
 */
async function nextRun(db: Db, ticketId: number): Promise<OutboxRow[]> {
  const rows: OutboxRow[] = await db('outbox').where({ ticket_id: ticketId }).whereNull('delivered_at').orderBy('id').limit(MAX_RUN);
  const end = rows.findIndex((r) => r.kind !== 'fields');
  return rows[0]?.kind === 'fields' ? rows.slice(0, end < 0 ? rows.length : end) : rows.slice(0, 1);
}

const MAX_RUN = 20;

const mergedFields = (rows: OutboxRow[]): OutboxItem =>
  ({ kind: 'fields', fields: Object.assign({}, ...rows.map((r) => (r.payload as { fields: Record<string, string> }).fields)) });

async function deliverOne(rt: Helpdesk, row: OutboxRow): Promise<void> {
  const item = row.payload;
  if (item.kind === 'fields') return rt.setCustomFields(row.ticket_id, item.fields);
  if (item.kind === 'comment') return postOnce(rt, row, item.text);
  try {
    await rt.addAdminCcGroup(row.ticket_id, item.adminCcGroup);
  } catch (e) {
    // a notice RT will not take (unknown group, missing right) must not hold up the ticket's later write-backs
    if (!isRdError(e) || e.code !== 'RD_HELPDESK_REFUSED') throw e;
    await postOnce(rt, row, [
      `releasedesk could not add the group ${item.adminCcGroup} as AdminCc of this ticket, so its members were not notified.`,
      `RT said: ${e.message}`, '',
      'What to do: an RT administrator checks that the group exists and that the service user may see it (SeeGroup) and '
      + 'change watchers (ModifyTicket), or corrects NOTICE_GROUPS. Meanwhile tell the group yourself.',
    ].join('\n'));
  }
}

async function postOnce(rt: Helpdesk, row: OutboxRow, text: string): Promise<void> {
  // the first attempt cannot have a predecessor on the ticket; later ones may have posted before dying
  if (row.attempts > 0 && (await rt.hasComment(row.ticket_id, markerLine(row.marker)))) return;
  await rt.comment(row.ticket_id, `${text}\n\n${markerLine(row.marker)}`);
}

export async function pendingCount(db: Db): Promise<number> {
  const [r] = await db('outbox').whereNull('delivered_at').count({ n: '*' });
  return Number(r?.n ?? 0);
}
