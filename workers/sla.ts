import type { Config } from '../config/index.ts';
import { clocks, noteSlaNotice } from '../services/db/sla.ts';
import type { Db } from '../services/db/knex.ts';
import { enqueueWriteBack } from '../services/db/outbox.ts';
import { overdueComment } from '../services/helpdesk/comments.ts';
import type { Logger } from '../services/log.ts';
import type { Metrics } from '../services/metrics.ts';
import { REPO_STATUSES, slaState, turnOf, validActions, type RepoStatus, type Role } from '../services/workflow/transitions.ts';
import { every, type Loop } from './loops.ts';

export interface SlaDeps {
  db: Db;
  log: Logger;
  metrics: Metrics;
  config: Pick<Config, 'SLA_DEADLINES' | 'NOTICE_GROUPS' | 'TECHNOLOGY_UNIT_GROUP' | 'ROLLOUT_GROUP'>;
  writeBacksQueued?: () => void;
}

const DAY = 86_400_000;

/**
 * Gives the notice of every release past its deadline in its status, once per stay there: a comment on its
 * ticket, and the group whose turn it is made AdminCc again, so RT notifies its members. The clock is the
 * database's record of when the release entered the status: it survives restarts, and a check that did not
 * run at the deadline (the service was down) gives the notice at its next run. Incomplete has no clock.
 */
export async function slaOnce(deps: SlaDeps, now = new Date()): Promise<number> {
  const statuses = REPO_STATUSES.filter((s) => deps.config.SLA_DEADLINES[s] !== undefined);
  const overdueNow: Partial<Record<RepoStatus, number>> = {};
  let told = 0;
  for (const c of await clocks(deps.db, statuses)) {
    const state = slaState(c.status, c.enteredAt, deps.config.SLA_DEADLINES, now);
    if (!state?.overdue) continue;
    overdueNow[c.status] = (overdueNow[c.status] ?? 0) + 1;
    if (c.notified) continue;
    const group = groupOf(deps.config, c.status);
    const text = overdueComment({
      status: c.status,
      days: Math.floor((now.getTime() - c.enteredAt.getTime()) / DAY),
      deadlineDays: Math.round(deps.config.SLA_DEADLINES[c.status]! / DAY),
      group,
      next: `set RepoAction to ${validActions(c.status, turnOf(c.status)).join(' or ')}.`,
    });
    const fresh = await deps.db.transaction(async (trx) => {
      if (!(await noteSlaNotice(trx, c))) return false;
      const marker = `sla:${c.releaseId}:${c.status}:${c.enteredAt.toISOString()}`;
      if (group) await enqueueWriteBack(trx, c.ticketId, `${marker}:watchers`, { kind: 'watchers', adminCcGroup: group });
      await enqueueWriteBack(trx, c.ticketId, `${marker}:comment`, { kind: 'comment', text });
      return true;
    });
    if (!fresh) continue;
    told++;
    deps.metrics.slaNotices.inc({ status: c.status });
    deps.log.info({ ticket: c.ticketId, status: c.status, enteredAt: c.enteredAt, group }, 'release past its deadline: notice given');
  }
  for (const s of statuses) deps.metrics.slaOverdue.set({ status: s }, overdueNow[s] ?? 0);
  if (told) deps.writeBacksQueued?.();
  return told;
}

/** The RT group of whose turn it is: the one NOTICE_GROUPS hands the status to, else the role's group. */
function groupOf(config: SlaDeps['config'], status: RepoStatus): string | null {
  const byRole: Record<Exclude<Role, 'provider'>, string> = {
    technologyUnit: config.TECHNOLOGY_UNIT_GROUP,
    rolloutCoordinator: config.ROLLOUT_GROUP,
  };
  const role = turnOf(status)[0] as Exclude<Role, 'provider'> | undefined;
  return config.NOTICE_GROUPS[status] ?? (role ? byRole[role] : null);
}

export const slaLoop = (deps: SlaDeps, ms: number): Loop => every(deps.db, 'sla', ms, deps.log, async () => void (await slaOnce(deps)));
