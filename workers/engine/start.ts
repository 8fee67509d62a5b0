/**
 * How an action starts: decided on the release's status and the actor's roles, then either refused (a
 * comment, nothing changes) or moved to its running status by compare-and-set, all in one transaction.
 */
import { finishEvent, type InboxRow } from '../../services/db/inbox.ts';
import { casStatus, ensureRelease, type ReleaseRow } from '../../services/db/releases.ts';
import { insertRefused, insertRunning } from '../../services/db/transitions.ts';
import { refusalComment } from '../../services/helpdesk/comments.ts';
import { enqueueWriteBack } from '../../services/helpdesk/outbox.ts';
import type { Logger } from '../../services/log.ts';
import { decide, factsOf, type RepoAction, type Role } from '../../services/workflow/transitions.ts';
import { groupNames } from '../../services/helpdesk/roles.ts';
import type { EngineDeps } from './step.ts';
import { Timings } from './timings.ts';

/** `rolesOf(false)` may answer from a recent read of RT's groups; a refusal is decided on a fresh one. */
export async function start(
  deps: EngineDeps,
  row: InboxRow,
  release: ReleaseRow,
  action: RepoAction,
  actor: string,
  rolesOf: (fresh: boolean) => Promise<Role[]>,
  log: Logger,
  timings = new Timings(),
) {
  let roles = await rolesOf(false);
  let freshRoles = false;
  for (let tries = 0; tries < 3; tries++) {
    const meta = release.metadata as { emergency?: boolean } | null;
    const facts = factsOf(release.status, release.requested_action, deps.config.ALLOW_EMERGENCY && meta?.emergency === true);
    let d = decide(release.status, action, roles, facts);
    if (!d.ok && !freshRoles) {
      // the groups read a while ago may not show a membership granted since
      roles = await rolesOf(true);
      freshRoles = true;
      d = decide(release.status, action, roles, facts);
    }
    if (!d.ok) {
      const text = refusalComment(d, actor, groupNames(deps.config));
      await deps.db.transaction(async (trx) => {
        await insertRefused(trx, { row, action, actor, from: release.status }, d.code, text);
        await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:refused`, { kind: 'comment', text });
        await finishEvent(trx, row.id, 'done', d.code);
      });
      deps.writeBacksQueued?.();
      deps.metrics.jobs.inc({ action, outcome: 'refused' });
      log.info({ code: d.code, status: release.status, roles }, 'action refused');
      return null;
    }
    const t = d.transition;
    const ok = await timings.time('db', () =>
      deps.db.transaction(async (trx) => {
        if (!(await casStatus(trx, row.ticket_id, release.status, t.running, { requested_action: action, active_inbox_id: row.id })))
          return false;
        await insertRunning(trx, { row, action, actor, from: release.status }, t.running);
        await enqueueWriteBack(trx, row.ticket_id, `inbox-${row.id}:start`, { kind: 'fields', fields: { RepoStatus: t.running } });
        return true;
      }),
    );
    if (ok) {
      deps.writeBacksQueued?.();
      return { ...release, status: t.running, active_inbox_id: row.id };
    }
    release = await ensureRelease(deps.db, row.ticket_id); // lost a race: read again and decide again
  }
  throw new Error(`release of ticket ${row.ticket_id} keeps changing under us`);
}
