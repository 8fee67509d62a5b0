import * as outbox from '../db/outbox.ts';
import type { Attachment } from '../db/outbox.ts';
import type { Db } from '../db/knex.ts';
import { isRdError, RdError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Helpdesk } from './port.ts';

export { enqueueWriteBack, pendingCount } from '../db/outbox.ts';
type OutboxRow = outbox.OutboxRow;

/** Tells another desk the status of a release imported from it (the source ticket's comment is theirs to write). */
export interface PeerStatusSender {
  sendStatus(peer: string, s: { sourceTicket: number; ticket: number; status: string; marker: string }): Promise<void>;
}

export const markerLine = (marker: string) => `-- releasedesk op ${marker}`;

const backoffMs = (attempts: number) => Math.min(60_000, 500 * 2 ** Math.min(attempts, 7));
// a refusal waits for an operator: from 30 s, doubling, up to refusedRetryMs
const refusedBackoffMs = (attempts: number, max: number) => Math.min(max, 30_000 * 2 ** Math.min(attempts, 10));

/**
 * How long a call to RT may still be running after the process that sent it died (the RT client gives up
 * on a call after 20 s). Until then that write-back is not retried and its ticket's later ones wait: RT
 * could otherwise take the dead call after the retry's check for it (a comment twice) or after a later
 * write-back (an older RepoStatus last).
 */
const IN_FLIGHT_MS = 20_000;

/** RT is there and says no: no retry at the network's pace changes that, an operator does. */
const REFUSALS: ErrorCode[] = ['RD_HELPDESK_WRITE_REFUSED', 'RD_HELPDESK_REFUSED'];

export interface DeliverOptions {
  limit?: number;
  /** delivers peer-status items (services/bundles/peer-client.ts) */
  peers?: PeerStatusSender;
  /** how long a write-back RT refused waits before it is tried again (unless a write goes through first) */
  refusedRetryMs?: number;
}

/**
 * Delivers due write-backs, oldest first and strictly in order per ticket: a ticket whose oldest row is
 * not yet due or fails waits, so RT never shows a later status before an earlier one. A write-back RT
 * refuses is held (30 s, doubling up to `refusedRetryMs`) and shows in /healthz; the first write RT takes
 * again releases the ones held for RD_HELPDESK_WRITE_REFUSED, which is about the service, not the ticket.
 */
export async function deliverDue(
  db: Db,
  rt: Helpdesk,
  log: Logger,
  opts: DeliverOptions = {},
): Promise<{ delivered: number; failed: number }> {
  const refusedRetryMs = opts.refusedRetryMs ?? 300_000;
  let delivered = 0;
  let failed = 0;
  await Promise.all(
    (await outbox.dueHeads(db, opts.limit ?? 100)).map(async (head) => {
      for (let rows = await nextRun(db, head); rows.length; rows = await nextRun(db, head)) {
        const ids = rows.map((r) => r.id);
        const first = rows[0]!;
        try {
          // counted before the call: a process killed after RT accepted a comment must check for it next time,
          // and not before that call is surely over (a failure seen here reschedules it by the backoff, below)
          await outbox.markAttempt(db, ids, new Date(Date.now() + IN_FLIGHT_MS));
          const fields = first.kind === 'fields' ? mergedFields(rows.filter((r) => r.kind === 'fields')) : undefined;
          // a run is one row, fields (merged), or the fields and the comment that carries them
          const last = rows.at(-1)!;
          if (last.kind === 'comment') await deliverOne(rt, opts.peers, last, fields);
          else await deliverOne(rt, opts.peers, fields ? { ...first, payload: { kind: 'fields', fields } } : first);
          log.debug({ ticket: first.ticket_id, outbox: ids, kinds: rows.map((r) => r.kind), fields }, 'write-back delivered');
          await outbox.markDelivered(db, ids);
          delivered += rows.length;
        } catch (e) {
          failed++;
          const code = isRdError(e) ? e.code : null;
          const message = isRdError(e) ? `[${e.code}] ${e.message}` : String((e as Error).message ?? e);
          const refused = code !== null && REFUSALS.includes(code);
          const retryAt = new Date(Date.now() + (refused ? refusedBackoffMs(first.attempts, refusedRetryMs) : backoffMs(first.attempts)));
          const line = { ticket: first.ticket_id, outbox: ids, attempts: first.attempts + 1, code, err: message, retryAt };
          if (refused) log.error(line, 'RT refused a write-back; it is held and tried again at retryAt (see /healthz)');
          else log.warn(line, 'write-back failed; will retry');
          await outbox.markFailed(db, ids, { code, message, retryAt });
          return;
        }
      }
    }),
  );
  // once per round, not per delivery: a write RT took shows it takes the service's writes again
  if (delivered && (await outbox.releaseHeld(db, 'RD_HELPDESK_WRITE_REFUSED')))
    log.info("RT takes the service's writes again: sending the held write-backs");
  return { delivered, failed };
}

/**
 * The ticket's oldest undelivered write-back; when it sets fields, with the field settings queued right
 * after it, and the comment after those: RT busy or away, a job's Processing is still waiting when its final
 * status is queued, and one call writing what the last of them says leaves the ticket as all of them in turn
 * would. A job's final status and its comment go out as one write (the comment, then the fields, as RT's
 * update page does): one request and one token check less per action, which at RT's default bcrypt cost
 * is about a quarter of a second of RT's CPU (README, "What writing with the token costs").
 */
async function nextRun(db: Db, head: OutboxRow): Promise<OutboxRow[]> {
  const rows = await outbox.undelivered(db, head.ticket_id, head.channel, MAX_RUN);
  if (rows[0]?.kind !== 'fields') return rows.slice(0, 1);
  const end = rows.findIndex((r) => r.kind !== 'fields');
  if (end < 0) return rows;
  return rows.slice(0, rows[end]!.kind === 'comment' ? end + 1 : end);
}

const MAX_RUN = 20;

const mergedFields = (rows: OutboxRow[]): Record<string, string> =>
  Object.assign({}, ...rows.map((r) => (r.payload as { fields: Record<string, string> }).fields));

/** One write-back; a comment carries `fields` (those queued right before it) in the same write. */
async function deliverOne(
  rt: Helpdesk,
  peers: PeerStatusSender | undefined,
  row: OutboxRow,
  fields?: Record<string, string>,
): Promise<void> {
  const item = row.payload;
  if (item.kind === 'fields') return rt.setCustomFields(row.ticket_id, item.fields);
  if (item.kind === 'comment') return postOnce(rt, row, item.text, item.attachments, fields);
  if (item.kind === 'peer-status') {
    if (!peers) throw new RdError('RD_INTERNAL', 'no peer client: this process does not deliver peer statuses');
    return peers.sendStatus(item.peer, { sourceTicket: item.sourceTicket, ticket: row.ticket_id, status: item.status, marker: row.marker });
  }
  try {
    await rt.addAdminCcGroup(row.ticket_id, item.adminCcGroup);
  } catch (e) {
    // a notice RT will not take (unknown group, missing right) must not hold up the ticket's later write-backs
    if (!isRdError(e) || e.code !== 'RD_HELPDESK_REFUSED') throw e;
    await postOnce(
      rt,
      row,
      [
        `releasedesk could not add the group ${item.adminCcGroup} as AdminCc of this ticket, so its members were not notified.`,
        `RT said: ${e.message}`,
        '',
        'What to do: an RT administrator checks that the group exists and that the service user may see it (SeeGroup) and ' +
          'change watchers (ModifyTicket), or corrects NOTICE_GROUPS. Meanwhile tell the group yourself.',
      ].join('\n'),
    );
  }
}

async function postOnce(
  rt: Helpdesk,
  row: OutboxRow,
  text: string,
  attachments?: Attachment[],
  fields?: Record<string, string>,
): Promise<void> {
  // the first attempt cannot have a predecessor on the ticket; later ones may have posted before dying, and
  // RT sets the fields after the comment: a comment found there may still lack them
  if (row.attempts > 0 && (await rt.hasComment(row.ticket_id, markerLine(row.marker)))) {
    if (fields) await rt.setCustomFields(row.ticket_id, fields);
    return;
  }
  await rt.comment(row.ticket_id, `${text}\n\n${markerLine(row.marker)}`, attachments, fields);
}

/** For /healthz: fails while write-backs are held because RT refused them. */
export async function checkWritesAccepted(db: Db): Promise<void> {
  const held = await outbox.heldWriteBacks(db, REFUSALS);
  if (!held) return;
  throw new Error(
    `RT refuses the service's writes: ${held.count} write-back(s) on ${held.tickets} ticket(s) held since ${held.since.toISOString()}; last: ${held.lastError}`,
  );
}
