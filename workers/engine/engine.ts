/**
 * The runner of action jobs: every pending event of a ticket, in RT transaction order, under the locks the
 * job declares. Each event is checked against RT, started (start.ts), run as checkpointed steps
 * (run-steps.ts) and ended (finish.ts); a landed action wakes the releases waiting for it (waiting.ts).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type { ActionJobV1 } from '../../schemas/job-action.v1.ts';
import {
  finishEvent,
  insertEvent,
  lastHandledTransaction,
  markEnqueued,
  pendingForTicket,
  type InboxRow,
} from '../../services/db/inbox.ts';
import { withLocks } from '../../services/db/locks.ts';
import { ensureRelease } from '../../services/db/releases.ts';
import { runningOf } from '../../services/db/transitions.ts';
import { isRdError } from '../../services/errors.ts';
import { errorComment } from '../../services/helpdesk/comments.ts';
import type { TicketHistory, TicketInfo } from '../../services/helpdesk/port.ts';
import { isRepoAction, transitions, type RepoAction } from '../../services/workflow/transitions.ts';
import { finish, tellRetrying } from './finish.ts';
import { groupNames, resolveRoles } from '../../services/helpdesk/roles.ts';
import { type EarlyReads, runSteps, startEarlyReads, undoSteps } from './run-steps.ts';
import { start } from './start.ts';
import type { EngineDeps, StepContext } from './step.ts';
import { timedHelpdesk, Timings } from './timings.ts';
import { wakeWaiting } from './waiting.ts';

/** How a job runs: whether a transient failure is its last chance, and for how long it is retried otherwise. */
export interface RunOpts {
  finalAttempt?: boolean;
  retryWindowMs?: number;
  onProgress?: (p: object) => Promise<void>;
}

/** Handles every pending event of one ticket, in transaction order, holding the locks the job declares (its ticket's among them). */
export async function processTicket(deps: EngineDeps, job: Pick<ActionJobV1, 'ticketId' | 'exclusive'>, opts: RunOpts = {}) {
  const { ticketId } = job;
  await withLocks(deps.db, job.exclusive, async () => {
    const pending = await pendingForTicket(deps.db, ticketId);
    if (!pending.length) return;
    const upTo = Math.max(...pending.map((r) => r.transaction_id));
    // the job's read of the ticket counts in the timings of its first event
    let first: Timings | undefined = new Timings();
    const rt = timedHelpdesk(deps.rt, first);
    // the first event's early reads go out with the read of the ticket: its action as the webhook said (RT's
    // record decides what runs; a read for another action is dropped)
    const lead = pending[0]!;
    const early = isRepoAction(lead.action) ? startEarlyReads(deps.plans[lead.action].steps, rt, ticketId) : undefined;
    const seen = await caughtUp({ ...deps, rt }, ticketId, upTo);
    if ('history' in seen) await backfill(deps, ticketId, seen.history, upTo);
    // a change that arrived after RT was read is not in `seen`: its own job takes it
    for (const row of await pendingForTicket(deps.db, ticketId)) {
      if (row.transaction_id > upTo) continue;
      await processEvent(deps, row, seen, opts, first ?? new Timings(), row.id === lead.id ? early : undefined);
      first = undefined;
    }
  });
}

/** The ticket and its history, read from RT once per job: the webhook is a trigger, not the truth. */
type Seen = { ignore: string } | { ticket: TicketInfo; history: TicketHistory };

async function readTicket(deps: Pick<EngineDeps, 'rt' | 'config'>, ticketId: number): Promise<Seen> {
  try {
    const { ticket, history } = await deps.rt.readTicket(ticketId);
    if (ticket.queue !== deps.config.RT_QUEUE) return { ignore: `ticket is in queue ${ticket.queue}` };
    return { ticket, history: await history };
  } catch (e) {
    if (isRdError(e) && e.code === 'RD_TICKET_NOT_FOUND') return { ignore: `ticket ${ticketId} not found in RT` };
    throw e;
  }
}

/** Waits between reads of a ticket whose history stops before the event's transaction (3.15 s in all). */
const CATCH_UP_MS = [50, 100, 200, 400, 800, 1600];

/**
 * RT calls the webhook while the change's own request is still running: a read that comes at once can find the
 * history without that transaction (kill9-load saw "not a RepoAction change" for a change RT holds). So a history
 * that stops before `upTo` is read again, briefly; only a transaction RT still does not show after that is
 * taken for one it does not have (a forged or mistaken event), and ignored.
 */
async function caughtUp(deps: Pick<EngineDeps, 'rt' | 'config' | 'log'>, ticketId: number, upTo: number): Promise<Seen> {
  let seen = await readTicket(deps, ticketId);
  for (const ms of CATCH_UP_MS) {
    if (!('history' in seen) || seen.history.newest >= upTo) return seen;
    deps.log.info(
      { ticket: ticketId, txn: upTo, newest: seen.history.newest, waitMs: ms },
      'RT does not show the transaction yet; reading again',
    );
    await sleep(ms);
    seen = await readTicket(deps, ticketId);
  }
  return seen;
}

/**
 * Webhooks arrive in any order, and some never: before acting on a change, every earlier RepoAction change
 * of the ticket that RT has and the inbox has not is taken in, so that it runs first.
 */
async function backfill(deps: EngineDeps, ticketId: number, history: TicketHistory, upTo: number) {
  const after = await lastHandledTransaction(deps.db, ticketId);
  for (const c of history.changes.filter((h) => h.id > after && h.id < upTo)) {
    const row = await insertEvent(deps.db, {
      ticketId,
      transactionId: c.id,
      event: c.type === 'Create' ? 'ticket.created' : 'customfield.changed',
      action: c.newValue,
      oldValue: c.oldValue,
      actorName: c.creator,
      source: 'backfill',
      payload: { backfilledBefore: upTo },
    });
    if (row) {
      await markEnqueued(deps.db, row.id); // it runs now, in this job
      deps.log.warn({ ticket: ticketId, txn: c.id, before: upTo }, 'an earlier RepoAction change had not arrived; taking it first');
    }
  }
}

async function processEvent(deps: EngineDeps, row: InboxRow, seen: Seen, opts: RunOpts, timings: Timings, early?: EarlyReads) {
  const log = deps.log.child({ ticket: row.ticket_id, inbox: row.id, txn: row.transaction_id });
  const verified = verify(deps, row, seen);
  if ('ignore' in verified) {
    log.info({ why: verified.ignore }, 'event ignored');
    await finishEvent(deps.db, row.id, 'ignored', verified.ignore);
    return;
  }
  const { action, actor, ticket, history } = verified;
  const handled = await lastHandledTransaction(deps.db, row.ticket_id);
  if (row.retry_of === null && row.transaction_id < handled) {
    // a change older than one already acted on arrived too late to take effect in its place
    log.warn({ handled }, 'event older than an action already taken; ignored');
    await finishEvent(deps.db, row.id, 'ignored', `older than transaction ${handled}, which was already acted on`);
    return;
  }
  const alog = log.child({ action, actor });
  const rt = timedHelpdesk(deps.rt, timings);
  let release = await timings.time('db', () => ensureRelease(deps.db, row.ticket_id));
  const resuming = release.status === transitions[action].running && release.active_inbox_id === row.id;
  if (!resuming) {
    const started = await start(
      deps,
      row,
      release,
      action,
      actor,
      (fresh) => resolveRoles(rt, actor, ticket, groupNames(deps.config), fresh),
      alog,
      timings,
    );
    if (!started) return;
    release = started;
  } else alog.info('resuming an action that was interrupted');

  const plan = deps.plans[action];
  const t = transitions[action];
  const running = await timings.time('db', () => runningOf(deps.db, row.id));
  const ctx: StepContext = {
    deps: { ...deps, rt },
    log: alog,
    ticketId: row.ticket_id,
    inboxId: row.id,
    transactionId: row.transaction_id,
    actor,
    history,
    releaseId: release.id,
    fromStatus: running.from_status,
    outputs: {},
    timings,
    workDir: path.join(deps.config.STORAGE_DIR, 'tmp', `inbox-${row.id}`),
    progress: async (p) => {
      alog.info(p, 'progress');
      await opts.onProgress?.(p);
    },
  };
  await mkdir(ctx.workDir, { recursive: true });
  const t0 = Date.now();
  try {
    await runSteps(ctx, plan.steps, early);
    const s = plan.summary(ctx, Date.now() - t0);
    const to = s.waits && t.waits ? t.waits : t.success;
    const outcome = to === t.success ? 'ok' : 'waiting';
    const attachments = await Promise.all(
      (s.attachments ?? []).map(async (a) => ({ name: a.name, type: a.type, base64: (await readFile(a.file)).toString('base64') })),
    );
    await timings.time('db', () =>
      finish(deps, row, action, outcome, to, s.comment, { ...s.release, repo_uri: s.repoUri ?? null }, s.repoUri, undefined, attachments),
    );
    deps.metrics.jobs.inc({ action, outcome });
    deps.metrics.jobSeconds.observe({ action, outcome }, (Date.now() - t0) / 1000);
    alog.info({ ms: Date.now() - t0, status: to, timings: timings.report() }, 'action done');
    // the action has landed; a failure to wake the releases waiting on it must not undo it
    if (outcome === 'ok')
      await wakeWaiting(deps, release.id, alog).catch((e) =>
        alog.error({ err: e }, 'could not re-check the releases waiting for this one'),
      );
  } catch (e) {
    const permanent = isRdError(e) && e.permanent;
    if (!permanent && !opts.finalAttempt) {
      alog.warn({ err: e }, 'transient failure; will retry');
      await tellRetrying(deps, row, action, e, opts.retryWindowMs ?? 0, alog);
      throw e;
    }
    alog.error({ err: e, timings: timings.report() }, 'action failed');
    await undoSteps(ctx, plan.steps);
    const c = errorComment(e, action, `inbox-${row.id}`);
    await finish(deps, row, action, 'failed', t.failure === 'unchanged' ? ctx.fromStatus : t.failure, c.text, {}, undefined, c.code);
    deps.metrics.jobs.inc({ action, outcome: 'failed' });
    deps.metrics.jobSeconds.observe({ action, outcome: 'failed' }, (Date.now() - t0) / 1000);
  } finally {
    await rm(ctx.workDir, { recursive: true, force: true });
  }
}

type Verified = { ignore: string } | { action: RepoAction; actor: string; ticket: TicketInfo; history: TicketHistory };

/** The action and its author come from RT's record of the transaction, never from the webhook. */
function verify(deps: EngineDeps, row: InboxRow, seen: Seen): Verified {
  if ('ignore' in seen) return seen;
  const txn = seen.history.changes.find((c) => c.id === row.transaction_id);
  if (!txn) return { ignore: `transaction ${row.transaction_id} is not a RepoAction change of ticket ${row.ticket_id} in RT` };
  const action = txn.newValue;
  if (txn.creator === deps.config.RT_USER) return { ignore: 'made by the service user' };
  if (!isRepoAction(action)) return { ignore: `RepoAction value ${JSON.stringify(action)} is not an action` };
  return { action, actor: txn.creator, ...seen };
}
