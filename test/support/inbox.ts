import type { Db } from '../../services/db/knex.ts';
import { type InboxRow, insertEvent } from '../../services/db/inbox.ts';

/** A RepoAction change whose webhook arrived: its inbox row (MoveToUnverified by provider1 unless told). */
export async function webhookEvent(
  db: Db,
  ticketId: number,
  transactionId: number,
  o: { action?: string; actorName?: string } = {},
): Promise<InboxRow> {
  const row = await insertEvent(db, {
    ticketId,
    transactionId,
    event: 'customfield.changed',
    action: o.action ?? 'MoveToUnverified',
    oldValue: null,
    actorName: o.actorName ?? 'provider1',
    source: 'webhook',
    payload: {},
  });
  if (!row) throw new Error(`the inbox already has ticket ${ticketId} transaction ${transactionId}`);
  return row;
}
