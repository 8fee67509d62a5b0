/** SLA clocks (workers/sla.ts): when each release entered its status, and the notices already given. */
import type { RepoStatus } from '../workflow/transitions.ts';
import type { Db, Exec } from './knex.ts';

export interface Clock {
  releaseId: number;
  ticketId: number;
  status: RepoStatus;
  /** when its current stay in that status began: the end of the transition that put it there */
  enteredAt: Date;
  notified: boolean;
}

/** The clocks of the releases now in one of `statuses` (or of the given tickets). */
export async function clocks(db: Db, statuses: RepoStatus[], tickets?: number[]): Promise<Clock[]> {
  if (!statuses.length) return [];
  const entered = db('transitions')
    .whereIn('outcome', ['ok', 'waiting'])
    .distinctOn('ticket_id', 'to_status')
    .orderBy([{ column: 'ticket_id' }, { column: 'to_status' }, { column: 'id', order: 'desc' }])
    .select('ticket_id', 'to_status', 'finished_at')
    .as('e');
  const rows = await db('releases as r')
    .join(entered, (j) => j.on('e.ticket_id', 'r.ticket_id').andOn('e.to_status', 'r.status'))
    .whereIn('r.status', statuses)
    .modify((q) => {
      if (tickets) q.whereIn('r.ticket_id', tickets);
    })
    .select(
      'r.id',
      'r.ticket_id',
      'r.status',
      'e.finished_at',
      db.raw(
        'EXISTS (SELECT 1 FROM sla_notices n WHERE n.release_id = r.id AND n.status = r.status AND n.entered_at = e.finished_at) AS notified',
      ),
    )
    .orderBy('r.ticket_id');
  return (rows as Array<{ id: number; ticket_id: number; status: RepoStatus; finished_at: Date | null; notified: boolean }>)
    .filter((r) => r.finished_at)
    .map((r) => ({ releaseId: Number(r.id), ticketId: r.ticket_id, status: r.status, enteredAt: r.finished_at!, notified: r.notified }));
}

/** True when this notice is new (another process may have given it first). */
export async function noteSlaNotice(trx: Exec, c: Clock): Promise<boolean> {
  const rows = await trx('sla_notices')
    .insert({ release_id: c.releaseId, status: c.status, entered_at: c.enteredAt })
    .onConflict(['release_id', 'status', 'entered_at'])
    .ignore()
    .returning('release_id');
  return rows.length > 0;
}
