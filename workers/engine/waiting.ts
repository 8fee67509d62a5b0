import { getInbox, hasPending, insertRetry } from '../../services/db/inbox.ts';
import type { Db } from '../../services/db/knex.ts';
import { incompleteIn, releaseById } from '../../services/db/releases.ts';
import { lastEndedIn } from '../../services/db/transitions.ts';
import { isRdError } from '../../services/errors.ts';
import { checkDependencies, type DepsConfig } from '../../services/deps/check.ts';
import type { Logger } from '../../services/log.ts';
import { waitsToEnter } from '../../services/workflow/transitions.ts';

/**
 * Something landed: every Incomplete release of its kind, platform and arch whose requirements are now met is
 * re-run (as a retry of the action that left it waiting). The relay hands the new events to the queue.
 */
export async function wakeWaiting(deps: { db: Db; config: DepsConfig }, landedReleaseId: number, log: Logger): Promise<number> {
  const { db } = deps;
  const landed = await releaseById(db, landedReleaseId);
  // any product: what landed may provide what a release of another product of its distribution waits for
  const waiting = await incompleteIn(db, { kind: landed.repo_kind, platform: landed.platform, arch: landed.arch });
  let woken = 0;
  for (const w of waiting) {
    const target = waitsToEnter(w.requested_action);
    if (!target) continue;
    // the landed action is done: a base repository that cannot be read now must not fail it; this one waits on
    const check = await checkDependencies(db, w.id, target, deps.config, { log }).catch((e: unknown) => {
      if (!isRdError(e) || e.code !== 'RD_BASE_REPO_UNAVAILABLE') throw e;
      log.warn({ ticket: w.ticket_id, target, err: e.message }, 'cannot re-check a waiting release now');
      return undefined;
    });
    if (!check?.satisfied) continue;
    const last = await lastEndedIn(db, w.ticket_id, 'Incomplete');
    const of = last && (await getInbox(db, last.inbox_id));
    if (!of) continue;
    // one waiting re-run at a time per release
    if (await hasPending(db, w.ticket_id)) continue;
    await insertRetry(db, of);
    woken++;
    log.info({ ticket: w.ticket_id, target }, 'requirements now met: publishing the waiting release');
  }
  return woken;
}
