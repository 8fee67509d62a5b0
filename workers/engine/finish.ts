/**
 * How an action ends: its release leaves the running status (compare-and-set), and its transition, inbox row
 * and ticket write-backs say so, in one transaction; or, on a transient failure, the ticket is told it is retried.
 */
import { finishEvent, type InboxRow } from '../../services/db/inbox.ts';
import { casStatus, type ReleaseRow } from '../../services/db/releases.ts';
import { finishRunning } from '../../services/db/transitions.ts';
import { isRdError } from '../../services/errors.ts';
import { retryComment } from '../../services/helpdesk/comments.ts';
import { enqueueWriteBack } from '../../services/helpdesk/outbox.ts';
import type { Logger } from '../../services/log.ts';
import { REPORTED_TO_SOURCE, transitions, type RepoAction } from '../../services/workflow/transitions.ts';
import { importOfTicket } from '../../services/db/packages.ts';
import type { Exec } from '../../services/db/knex.ts';
import type { Attachment } from '../../services/db/outbox.ts';
import type { EngineDeps } from './step.ts';

export async function finish(
  deps: EngineDeps,
  row: InboxRow,
  action: RepoAction,
  outcome: 'ok' | 'failed' | 'waiting',
  to: ReleaseRow['status'],
  comment: string,
  update: Partial<ReleaseRow>,
  repoUri?: string,
  code?: string,
  attachments?: Attachment[],
) {
  let unknownPeer: string | undefined;
  await deps.db.transaction(async (trx) => {
    const running = transitions[action].running;
    const moved = await casStatus(trx, row.ticket_id, running, to, { ...update, active_inbox_id: null });
    if (!moved) throw new Error(`release of ticket ${row.ticket_id} left ${running} while inbox ${row.id} ran`);
    await finishRunning(trx, row.id, { outcome, to, code: code ?? null, reason: outcome === 'failed' ? comment : null });
    const fields: Record<string, string> = { RepoStatus: to };
    if (repoUri !== undefined) fields.RepoURI = repoUri;
    await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:${outcome}:fields`, { kind: 'fields', fields });
    await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:${outcome}:comment`, {
      kind: 'comment',
      text: comment,
      ...(attachments?.length ? { attachments } : {}),
    });
    // a failure that leaves the release where it was hands it to nobody: no notice (it would re-add a group taken off by hand)
    const handOff = outcome !== 'failed' || transitions[action].failure !== 'unchanged';
    const group = handOff ? deps.config.NOTICE_GROUPS[to] : undefined;
    if (group) await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:${outcome}:notice`, { kind: 'watchers', adminCcGroup: group });
    unknownPeer = await tellSource(deps, trx, row, outcome, to);
    await finishEvent(trx, row.id, outcome === 'failed' ? 'failed' : 'done', code ?? outcome);
  });
  if (unknownPeer) {
    deps.log.warn(
      { ticket: row.ticket_id, desk: unknownPeer, status: to },
      'the release came from a desk that is not in PEERS: its status is not carried back there',
    );
  }
  deps.writeBacksQueued?.();
}

/** An imported release reaching a status its source hears of: queued to that desk, in the same transaction. Returns a desk missing from PEERS. */
async function tellSource(deps: EngineDeps, trx: Exec, row: InboxRow, outcome: string, to: ReleaseRow['status']) {
  if (outcome === 'failed' || !REPORTED_TO_SOURCE[to]) return undefined;
  const from = await importOfTicket(trx, row.ticket_id);
  if (!from) return undefined;
  if (!deps.config.PEERS.some((p) => p.name === from.source_desk)) return from.source_desk;
  await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:${outcome}:source`, {
    kind: 'peer-status',
    peer: from.source_desk,
    sourceTicket: from.source_ticket,
    status: to,
  });
  return undefined;
}

/** Retries that need no word on the ticket: routine waits, and RT itself away (it could not be told). */
const QUIET_RETRIES = new Set(['RD_BUSY', 'RD_HELPDESK_UNAVAILABLE']);

/** The first transient failure of an action is said on the ticket, once (the marker is the action's). */
export async function tellRetrying(deps: EngineDeps, row: InboxRow, action: RepoAction, e: unknown, windowMs: number, log: Logger) {
  if (isRdError(e) && QUIET_RETRIES.has(e.code)) return;
  try {
    const text = retryComment(e, action, `inbox-${row.id}`, windowMs);
    await enqueueWriteBack(deps.db, row.ticket_id, `inbox-${row.id}:retrying`, { kind: 'comment', text });
    deps.writeBacksQueued?.();
  } catch (err) {
    log.warn({ err }, 'could not queue the notice that the action is retried'); // the retry itself matters more
  }
}
