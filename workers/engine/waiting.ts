import { insertRetry } from '../../services/db/inbox.ts';
import type { Db } from '../../services/db/knex.ts';
import { isRdError } from '../../services/errors.ts';
import { checkDependencies, type DepsConfig } from '../../services/deps/check.ts';
import type { Logger } from '../../services/log.ts';
import type { Stage } from '../../services/storage/repo-ref.ts';

const TARGET: Record<string, Stage> = { MoveToStageRollOut: 'stage-rollout', MoveToProduction: 'production' };

/**
 * Something landed: every Incomplete release of the same product whose requirements are now met is
 * re-run (as a retry of the action that left it waiting). The relay hands the new events to the queue.
 */
export async function wakeWaiting(deps: { db: Db; config: DepsConfig }, landedReleaseId: number, log: Logger): Promise<number> {
  const { db } = deps;
  const landed = await db('releases').where({ id: landedReleaseId }).first();
  const waiting = await db('releases').where({ product_short_name: landed.product_short_name, status: 'Incomplete' });
  let woken = 0;
  for (const w of waiting) {
    const target = TARGET[w.requested_action];
    if (!target) continue;
    // the landed action is done: a base repository that cannot be read now must not fail it; this one waits on
    const check = await checkDependencies(db, w.id, target, deps.config, { log }).catch((e: unknown) => {
      if (!isRdError(e) || e.code !== 'RD_BASE_REPO_UNAVAILABLE') throw e;
      log.warn({ ticket: w.ticket_id, target, err: e.message }, 'cannot re-check a waiting release now');
      return undefined;
    });
    if (!check?.satisfied) continue;
    const last = await db('transitions').where({ ticket_id: w.ticket_id, to_status: 'Incomplete' }).orderBy('id', 'desc').first();
    const of = last && (await db('inbox').where({ id: last.inbox_id }).first());
    if (!of) continue;
    // one waiting re-run at a time per release
    if (await db('inbox').where({ ticket_id: w.ticket_id, state: 'pending' }).first()) continue;
    await insertRetry(db, of);
    woken++;
    log.info({ ticket: w.ticket_id, target }, 'requirements now met: publishing the waiting release');
  }
  return woken;
}
