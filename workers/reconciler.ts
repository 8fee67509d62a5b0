import type { Config } from '../config/index.ts';
import type { Db } from '../services/db/knex.ts';
import { initValue, readValue, writeValue } from '../services/db/kv.ts';
import type { RtClient } from '../services/helpdesk/rt-client.ts';
import { accept, type IntakeDeps } from '../services/intake.ts';
import type { Logger } from '../services/log.ts';
import { every } from './loops.ts';

export interface ReconcileDeps {
  db: Db;
  rt: Pick<
    RtClient,
    'customFieldId' | 'searchCustomFieldTransactions' | 'searchCreateTransactions' | 'initialCustomFieldValue' | 'newestTransactionId'
  >;
  log: Logger;
  intake: IntakeDeps;
  config: Config;
}

interface Change {
  id: number;
  ticketId: number;
  event: 'customfield.changed' | 'ticket.created';
  oldValue: string | null;
  newValue: string | null;
  creator: string;
  created: string;
}

/**
 * A missed webhook is not a lost action: RepoAction changes, and tickets created with RepoAction set,
 * that RT has and the inbox has not, go through the same intake as webhooks (the inbox's uniqueness
 * makes the overlap harmless). Each kind keeps its own cursor of RT transaction ids.
 */
export async function reconcileOnce(deps: ReconcileDeps): Promise<{ seen: number; queued: number }> {
  const fieldId = await deps.rt.customFieldId('RepoAction');
  let seen = 0;
  let queued = 0;
  const take = async (changes: Change[]) => {
    seen += changes.length;
    for (const c of changes) {
      const r = await accept(
        deps.intake,
        {
          event: c.event,
          ticket_id: c.ticketId,
          queue: deps.config.RT_QUEUE,
          subject: '',
          transaction_id: c.id,
          field: 'RepoAction',
          field_id: fieldId,
          old_value: c.oldValue || null,
          new_value: c.newValue || null,
          actor: { id: 0, name: c.creator },
          created: c.created,
          rt_url: deps.config.RT_URL,
        },
        'reconciler',
      );
      if (r.outcome === 'queued') {
        queued++;
        deps.log.info({ ticket: c.ticketId, txn: c.id, event: c.event }, 'reconciler found a change the webhook missed');
      }
    }
  };
  await withCursor(
    deps,
    'reconcile:last_transaction',
    () => deps.rt.newestTransactionId(fieldId),
    async (after) =>
      (await deps.rt.searchCustomFieldTransactions(fieldId, after)).map((c) => ({ ...c, event: 'customfield.changed' as const })),
    take,
  );
  await withCursor(
    deps,
    'reconcile:last_create',
    () => deps.rt.newestTransactionId(),
    async (after) => {
      const out: Change[] = [];
      for (const c of await deps.rt.searchCreateTransactions(after)) {
        const value = await deps.rt.initialCustomFieldValue(c.ticketId, 'RepoAction').catch(() => null);
        if (value !== null) out.push({ ...c, event: 'ticket.created', oldValue: null, newValue: value });
      }
      return out;
    },
    take,
  );
  return { seen, queued };
}

/**
 * Reads what came after the cursor, takes it in, and only then moves the cursor past it: a process that
 * dies in between reads the same changes again (the inbox makes that harmless) rather than skipping them.
 * The first time there is no cursor: it starts after RT's newest transaction, since old changes were
 * someone else's to act on, not ours; that takes one request, so the cursor is there moments after the
 * first start, whatever the size of RT's history.
 */
async function withCursor(
  deps: ReconcileDeps,
  key: string,
  newest: () => Promise<number>,
  fetch: (after: number) => Promise<Change[]>,
  take: (found: Change[]) => Promise<void>,
): Promise<void> {
  const cursor = await readValue(deps.db, key);
  if (cursor === undefined) {
    const start = await newest();
    deps.log.info({ key, fromTransaction: start }, 'reconciler starts after the newest transaction in RT');
    await initValue(deps.db, key, String(start));
    return;
  }
  const after = Number(cursor);
  const found = await fetch(after);
  await take(found);
  const max = found.reduce((m, c) => Math.max(m, c.id), after);
  if (max > after) await writeValue(deps.db, key, String(max));
}

export const reconcileLoop = (deps: ReconcileDeps, ms: number) =>
  // first tick at start: the cursor must exist before any webhook can be missed
  every(
    deps.db,
    'reconcile',
    ms,
    deps.log,
    async () => {
      await reconcileOnce(deps);
    },
    true,
  );
