import type { Config } from '../config/index.ts';
import type { Db } from '../services/db/knex.ts';
import type { RtClient } from '../services/helpdesk/rt-client.ts';
import { accept, type IntakeDeps } from '../services/intake.ts';
import type { Logger } from '../services/log.ts';
import { every } from './loops.ts';

const KEY = 'reconcile:last_transaction';

export interface ReconcileDeps {
  db: Db;
  rt: Pick<RtClient, 'customFieldId' | 'searchCustomFieldTransactions'>;
  log: Logger;
  intake: IntakeDeps;
  config: Config;
}

/**
 * A missed webhook is not a lost action: RepoAction changes RT has and the inbox has not are fed
 * through the same intake as webhooks (the inbox's uniqueness makes the overlap harmless).
 */
export async function reconcileOnce(deps: ReconcileDeps): Promise<{ seen: number; queued: number }> {
  const fieldId = await deps.rt.customFieldId('RepoAction');
  const cursor = await deps.db('kv').where({ key: KEY }).first();
  const last = Number(cursor?.value ?? 0);
  const changes = await deps.rt.searchCustomFieldTransactions(fieldId, last);
  if (!cursor) {
    // First start against an RT with history: old changes were someone else's to act on, not ours.
    const start = changes.reduce((m, c) => Math.max(m, c.id), 0);
    await deps.db('kv').insert({ key: KEY, value: String(start) }).onConflict('key').ignore();
    deps.log.info({ fromTransaction: start }, 'reconciler starts after the newest RepoAction change in RT');
    return { seen: 0, queued: 0 };
  }
  let queued = 0;
  let max = last;
  for (const c of changes) {
    const r = await accept(deps.intake, {
      event: 'customfield.changed', ticket_id: c.ticketId, queue: deps.config.RT_QUEUE, subject: '',
      transaction_id: c.id, field: 'RepoAction', field_id: fieldId, old_value: c.oldValue || null,
      new_value: c.newValue || null, actor: { id: 0, name: c.creator }, created: c.created, rt_url: deps.config.RT_URL,
    }, 'reconciler');
    if (r.outcome === 'queued') {
      queued++;
      deps.log.info({ ticket: c.ticketId, txn: c.id }, 'reconciler found a change the webhook missed');
    }
    max = Math.max(max, c.id);
  }
  if (max > last) {
    await deps.db('kv').insert({ key: KEY, value: String(max) }).onConflict('key').merge();
  }
  return { seen: changes.length, queued };
}

export const reconcileLoop = (deps: ReconcileDeps, ms: number) =>
  // first tick at start: the cursor must exist before any webhook can be missed
  every(deps.db, 'reconcile', ms, deps.log, async () => { await reconcileOnce(deps); }, true);
