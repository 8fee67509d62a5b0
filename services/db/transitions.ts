/** The transitions table: the history of each release, one row per action started, refused or ended. */
import type { RepoAction, RepoStatus } from '../workflow/transitions.ts';
import type { InboxRow } from './inbox.ts';
import type { Db, Exec } from './knex.ts';

/** One row per action taken or refused: the release's history (GET /releases/:ticket/history). */
export interface TransitionRow {
  id: number;
  ticket_id: number;
  inbox_id: number;
  transaction_id: number;
  action: RepoAction;
  actor: string;
  from_status: RepoStatus;
  to_status: RepoStatus;
  outcome: 'running' | 'refused' | 'ok' | 'failed' | 'waiting';
  code: string | null;
  reason: string | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
}

/** Which event asked for which action, who asked, and the status it was asked in: what every row records. */
export interface Asked {
  row: Pick<InboxRow, 'id' | 'ticket_id' | 'transaction_id'>;
  action: RepoAction;
  actor: string;
  from: RepoStatus;
}

const askedColumns = (a: Asked) => ({
  ticket_id: a.row.ticket_id,
  inbox_id: a.row.id,
  transaction_id: a.row.transaction_id,
  action: a.action,
  actor: a.actor,
  from_status: a.from,
});

/** A refusal changes nothing: it ends where it started, at once. */
export async function insertRefused(trx: Exec, a: Asked, code: string, reason: string): Promise<void> {
  await trx('transitions').insert({
    ...askedColumns(a),
    to_status: a.from,
    outcome: 'refused',
    code,
    reason,
    finished_at: trx.fn.now(),
    duration_ms: 0,
  });
}

/** The action has started: the release is in `running` until finishRunning. */
export async function insertRunning(trx: Exec, a: Asked, running: RepoStatus): Promise<void> {
  await trx('transitions').insert({ ...askedColumns(a), to_status: running, outcome: 'running' });
}

/** The started transition of an event's action (a rerun after kill -9 finds it again). */
export const runningOf = (db: Exec, inboxId: number): Promise<TransitionRow> =>
  db('transitions').where({ inbox_id: inboxId, outcome: 'running' }).first();

export interface Ending {
  outcome: 'ok' | 'failed' | 'waiting';
  to: RepoStatus;
  code: string | null;
  reason: string | null;
}

/** Ends the running transition of an event, timed from its start. */
export async function finishRunning(trx: Exec, inboxId: number, end: Ending): Promise<void> {
  const running = await runningOf(trx, inboxId);
  await trx('transitions')
    .where({ id: running.id })
    .update({
      outcome: end.outcome,
      to_status: end.to,
      code: end.code,
      reason: end.reason,
      finished_at: trx.fn.now(),
      duration_ms: Date.now() - new Date(running.started_at).getTime(),
    });
}

/** Every transition of a ticket, oldest first. */
/** A transition as people and other desks read it (the API's history, an exported bundle's audit trail). */
export const transitionView = (t: TransitionRow) => ({
  at: t.started_at,
  actor: t.actor,
  action: t.action,
  from: t.from_status,
  to: t.to_status,
  outcome: t.outcome,
  code: t.code,
  reason: t.reason,
  durationMs: t.duration_ms,
  transaction: t.transaction_id,
});

export const historyOf = (db: Db, ticketId: number): Promise<TransitionRow[]> =>
  db('transitions').where({ ticket_id: ticketId }).orderBy('id');

/** The newest action that ran (refusals changed nothing, so they do not count). */
export const lastRun = (db: Db, ticketId: number): Promise<TransitionRow | undefined> =>
  db('transitions').where({ ticket_id: ticketId }).whereNot({ outcome: 'refused' }).orderBy('id', 'desc').first();

/** The newest transition of a ticket that ended in `status`. */
export const lastEndedIn = (db: Db, ticketId: number, status: RepoStatus): Promise<TransitionRow | undefined> =>
  db('transitions').where({ ticket_id: ticketId, to_status: status }).orderBy('id', 'desc').first();

/** The newest transition of each ticket: who asked for what it is in now. */
export async function lastTransitions(db: Db, tickets: number[]): Promise<Map<number, TransitionRow>> {
  if (!tickets.length) return new Map();
  const rows: TransitionRow[] = await db('transitions')
    .whereIn('ticket_id', tickets)
    .whereNot('outcome', 'running')
    .distinctOn('ticket_id')
    .orderBy([{ column: 'ticket_id' }, { column: 'id', order: 'desc' }]);
  return new Map(rows.map((r) => [r.ticket_id, r]));
}
