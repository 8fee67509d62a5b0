/**
 * The runner of action jobs on the real PostgreSQL: inbox rows in, releases, transitions, checkpoints and
 * outbox rows out. RT is an in-memory Helpdesk and the plans are tiny test steps, so each test takes well
 * under a second; the real RT and the real steps are the e2e suites' business.
 */
import { webhookEvent } from '../../support/inbox.ts';
import { noSigner } from '../../support/signer.ts';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { lockKeys, lockSession, tryLock, unlock } from '../../../services/db/locks.ts';
import { RdError } from '../../../services/errors.ts';
import { createLogger } from '../../../services/log.ts';
import { createMetrics } from '../../../services/metrics.ts';
import { REPO_ACTIONS, type RepoAction, type RepoStatus } from '../../../services/workflow/transitions.ts';
import { processTicket, type RunOpts } from '../../../workers/engine/engine.ts';
import type { ActionPlan, EngineDeps, Step, StepContext } from '../../../workers/engine/step.ts';
import { TIMING_CATEGORIES } from '../../../workers/engine/timings.ts';
import { useTestDb } from '../../support/db.ts';
import { MemoryHelpdesk } from '../../support/memory-helpdesk.ts';

const t = useTestDb();
const metrics = createMetrics();
let storage: string;
beforeAll(async () => {
  storage = await mkdtemp(path.join(tmpdir(), 'rd-engine-'));
});
afterAll(async () => {
  await rm(storage, { recursive: true, force: true });
});

const TICKET = 1;

/** RT with one ticket whose requestor is provider1, a technology unit member and a rollout coordinator. */
function harness(env: Record<string, string> = {}) {
  const rt = new MemoryHelpdesk()
    .ticket(TICKET, ['prov@example.org'])
    .user('provider1', 'Prov@Example.org')
    .user('tu1', 'tu1@example.org', ['TechnologyUnit'])
    .user('rc1', 'rc1@example.org', ['RolloutCoordinators'])
    .user('stranger', 'stranger@example.org');
  const trail: string[] = [];
  const steps: Partial<Record<RepoAction, Step[]>> = {};
  const waits: Partial<Record<RepoAction, boolean>> = {};
  const plans = Object.fromEntries(
    REPO_ACTIONS.map((a): [RepoAction, ActionPlan] => [
      a,
      {
        get steps() {
          return steps[a] ?? [];
        },
        summary: (ctx) => ({
          comment: `${a} done after ${Object.keys(ctx.outputs).join(',')}`,
          repoUri: `http://repo.test/${a}/`,
          waits: waits[a] ?? false,
        }),
      },
    ]),
  ) as Record<RepoAction, ActionPlan>;
  let kicks = 0;
  const config = loadConfig({
    RT_TOKEN: 'test-token-0123456789abcdef',
    WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
    STORAGE_DIR: storage,
    ...env,
  });
  const deps: EngineDeps = {
    db: t.db,
    rt,
    config,
    metrics,
    signer: noSigner,
    log: createLogger('silent'),
    plans,
    writeBacksQueued: () => {
      kicks++;
    },
  };

  /** A step that writes its runs and undos to the trail; `fail` makes its run throw. */
  const step = (
    id: string,
    o: { out?: unknown; undo?: boolean; fail?: () => unknown; during?: (ctx: StepContext) => Promise<void> } = {},
  ): Step => ({
    id,
    run: async (ctx) => {
      trail.push(`run ${id}`);
      await o.during?.(ctx);
      const e = o.fail?.();
      if (e) throw e;
      return o.out ?? { from: id };
    },
    ...(o.undo !== false && {
      undo: async (_ctx: StepContext, out: unknown) => {
        trail.push(`undo ${id} ${JSON.stringify(out)}`);
      },
    }),
  });
  /** A RepoAction change RT has and whose webhook arrived (the inbox row). */
  const event = async (txn: number, action: string, by: string, ticketId = TICKET) => {
    rt.change(ticketId, { id: txn, action, by });
    return webhookEvent(t.db, ticketId, txn, { action, actorName: by });
  };
  const run = (opts: RunOpts = {}, exclusive = [lockKeys.ticket(TICKET)], ticketId = TICKET) =>
    processTicket(deps, { ticketId, exclusive }, opts);
  return { rt, trail, steps, waits, deps, step, event, run, kicks: () => kicks };
}

const releaseRow = (ticketId = TICKET) => t.db('releases').where({ ticket_id: ticketId }).first();
const setRelease = (status: RepoStatus, requested: RepoAction | null = null, ticketId = TICKET) =>
  t.db('releases').insert({ ticket_id: ticketId, status, requested_action: requested });
const transitionRows = (ticketId = TICKET) => t.db('transitions').where({ ticket_id: ticketId }).orderBy('id');
const outbox = async (ticketId = TICKET) =>
  (await t.db('outbox').where({ ticket_id: ticketId }).orderBy('id').select('marker', 'payload')).map((r) => ({
    marker: r.marker,
    ...r.payload,
  }));
const inboxRows = (ticketId = TICKET) => t.db('inbox').where({ ticket_id: ticketId }).orderBy('id');
const checkpointSteps = async (inboxId: number) => (await t.db('checkpoints').where({ inbox_id: inboxId }).pluck('step')).sort();
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('an action that succeeds', () => {
  it('runs its plan while the release is Processing, then moves it to the success status with a timed transition and write-backs in order', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    const during: unknown[] = [];
    h.steps.MoveToUnverified = [
      h.step('a', {
        out: { n: 1 },
        during: async (ctx) => {
          const r = await releaseRow();
          during.push({
            status: r.status,
            active: r.active_inbox_id,
            scratch: await exists(ctx.workDir),
            fromStatus: ctx.fromStatus,
            actor: ctx.actor,
          });
          await new Promise((ok) => setTimeout(ok, 40));
        },
      }),
      h.step('b'),
    ];
    await h.run();

    expect(h.trail).toEqual(['run a', 'run b']);
    expect(during).toEqual([{ status: 'Processing', active: row.id, scratch: true, fromStatus: 'New', actor: 'provider1' }]);
    expect(await exists(path.join(storage, 'tmp', `inbox-${row.id}`))).toBe(false); // scratch removed at the end
    expect(await releaseRow()).toMatchObject({
      status: 'Unverified',
      requested_action: 'MoveToUnverified',
      active_inbox_id: null,
      repo_uri: 'http://repo.test/MoveToUnverified/',
    });
    const [tr, ...more] = await transitionRows();
    expect(more).toEqual([]);
    expect(tr).toMatchObject({
      inbox_id: row.id,
      transaction_id: 10,
      action: 'MoveToUnverified',
      actor: 'provider1',
      from_status: 'New',
      to_status: 'Unverified',
      outcome: 'ok',
      code: null,
      reason: null,
    });
    expect(tr.finished_at).not.toBeNull();
    expect(tr.duration_ms).toBeGreaterThanOrEqual(35);
    expect(await checkpointSteps(row.id)).toEqual(['a', 'b']);
    expect(await outbox()).toEqual([
      { marker: `inbox-${row.id}:start`, kind: 'fields', fields: { RepoStatus: 'Processing' } },
      {
        marker: `inbox-${row.id}:ok:fields`,
        kind: 'fields',
        fields: { RepoStatus: 'Unverified', RepoURI: 'http://repo.test/MoveToUnverified/' },
      },
      { marker: `inbox-${row.id}:ok:comment`, kind: 'comment', text: 'MoveToUnverified done after a,b' },
      { marker: `inbox-${row.id}:ok:notice`, kind: 'watchers', adminCcGroup: 'TechnologyUnit' },
    ]);
    expect(await inboxRows()).toMatchObject([{ id: row.id, state: 'done', outcome: 'ok' }]);
    expect(h.kicks()).toBeGreaterThanOrEqual(2); // the outbox is told at the start and at the end
    // the job is done: running it again finds nothing pending
    await h.run();
    expect(h.trail).toEqual(['run a', 'run b']);
  });

  it('logs where the time went with "action done": per category, RT reads of the job included; checkpoints hold only the outputs', async () => {
    const h = harness();
    const lines: Array<Record<string, unknown>> = [];
    h.deps.log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const getTicket = h.rt.getTicket.bind(h.rt);
    h.rt.getTicket = async (id) => {
      await sleep(30);
      return getTicket(id);
    };
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    h.steps.MoveToUnverified = [
      h.step('a', { out: { n: 1 }, during: (ctx) => ctx.timings.time('download', () => sleep(40)) }),
      h.step('b', { during: async (ctx) => void (await ctx.deps.rt.comment(TICKET, 'hello')) }),
    ];
    await h.run();

    const done = lines.find((l) => l.msg === 'action done')!;
    const timings = done.timings as Record<string, number>;
    expect(Object.keys(timings).sort()).toEqual([...TIMING_CATEGORIES, 'other', 'total'].sort());
    expect(timings.download).toBeGreaterThanOrEqual(35);
    expect(timings['rt-read']).toBeGreaterThanOrEqual(25); // the ticket read before the event ran
    expect(timings.db).toBeGreaterThan(0); // start, checkpoints, finish
    const parts = TIMING_CATEGORIES.reduce((n, c) => n + timings[c]!, 0) + timings.other!;
    expect(Math.abs(parts - timings.total!)).toBeLessThanOrEqual(TIMING_CATEGORIES.length); // rounding
    expect(timings.total).toBeGreaterThanOrEqual(done.ms as number);
    const saved = await t.db('checkpoints').where({ inbox_id: row.id }).orderBy('step').select('step', 'output');
    expect(saved).toEqual([
      { step: 'a', output: { n: 1 } },
      { step: 'b', output: { from: 'b' } },
    ]);
  });

  it('notifies the group NOTICE_GROUPS names for the new status, and none when it names none', async () => {
    const custom = harness({ NOTICE_GROUPS: 'Unverified=Packagers,Production=Ops' });
    const row = await custom.event(10, 'MoveToUnverified', 'provider1');
    await custom.run();
    expect((await outbox()).at(-1)).toEqual({ marker: `inbox-${row.id}:ok:notice`, kind: 'watchers', adminCcGroup: 'Packagers' });

    const none = harness({ NOTICE_GROUPS: 'none' });
    none.rt.ticket(2, ['prov@example.org']);
    await none.event(11, 'MoveToUnverified', 'provider1', 2);
    await none.run({}, [lockKeys.ticket(2)], 2);
    expect((await outbox(2)).map((o) => o.kind)).toEqual(['fields', 'fields', 'comment']);
    expect(await releaseRow(2)).toMatchObject({ status: 'Unverified' });
  });

  it('a plan whose summary says it waits ends in the waiting status of its transition (Incomplete)', async () => {
    const h = harness();
    await setRelease('Unverified', 'MoveToUnverified');
    const row = await h.event(20, 'MoveToStageRollOut', 'tu1');
    h.waits.MoveToStageRollOut = true;
    await h.run();
    expect(await releaseRow()).toMatchObject({ status: 'Incomplete', requested_action: 'MoveToStageRollOut' });
    expect(await transitionRows()).toMatchObject([{ from_status: 'Unverified', to_status: 'Incomplete', outcome: 'waiting' }]);
    expect(await inboxRows()).toMatchObject([{ id: row.id, state: 'done', outcome: 'waiting' }]);
  });

  it('moves the release by compare-and-set: a release moved behind its back is left as it is, and the job fails to be retried', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    h.steps.MoveToUnverified = [
      h.step('a', {
        during: async () => {
          await t.db('releases').where({ ticket_id: TICKET }).update({ status: 'Rejected' });
        },
      }),
    ];
    await expect(h.run({ finalAttempt: false })).rejects.toThrow(/left Processing while inbox/);
    expect(await releaseRow()).toMatchObject({ status: 'Rejected' });
    expect(await transitionRows()).toMatchObject([{ outcome: 'running', to_status: 'Processing' }]);
    expect(await inboxRows()).toMatchObject([{ state: 'pending' }]);
    expect((await outbox()).map((o) => o.marker)).toEqual([`inbox-${row.id}:start`, `inbox-${row.id}:retrying`]);
  });
});

describe('a refused action', () => {
  it('from someone without the role: a refused transition and one comment, decided on a fresh read of the groups; nothing else changes', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'stranger');
    h.steps.MoveToUnverified = [h.step('a')];
    await h.run();
    expect(h.trail).toEqual([]);
    expect(await releaseRow()).toMatchObject({ status: 'New', requested_action: null, active_inbox_id: null, repo_uri: null });
    expect(await transitionRows()).toMatchObject([
      {
        inbox_id: row.id,
        action: 'MoveToUnverified',
        actor: 'stranger',
        from_status: 'New',
        to_status: 'New',
        outcome: 'refused',
        code: 'RD_ROLE_FORBIDDEN',
        duration_ms: 0,
      },
    ]);
    const out = await outbox();
    expect(out).toEqual([
      {
        marker: `inbox-${row.id}:refused`,
        kind: 'comment',
        text: expect.stringMatching(/^\[RD_ROLE_FORBIDDEN\] stranger may not MoveToUnverified; allowed: the ticket requestor/),
      },
    ]);
    expect(out[0].text).toContain('Nothing was changed.');
    expect(await inboxRows()).toMatchObject([{ state: 'done', outcome: 'RD_ROLE_FORBIDDEN' }]);
    expect(await t.db('checkpoints')).toEqual([]);
    expect(h.rt.groupReads).toEqual([
      { name: 'stranger', fresh: false },
      { name: 'stranger', fresh: true },
    ]);
  });

  it('a membership granted since the cached read of the groups is seen on the fresh read, and the action runs', async () => {
    const h = harness();
    await setRelease('Unverified', 'MoveToUnverified');
    h.rt.cachedGroups.tu1 = [];
    await h.event(20, 'MoveToStageRollOut', 'tu1');
    h.steps.MoveToStageRollOut = [h.step('s')];
    await h.run();
    expect(h.trail).toEqual(['run s']);
    expect(await releaseRow()).toMatchObject({ status: 'StageRollOut' });
  });

  it("not valid from the release's status: refused with the actions valid now, the release untouched", async () => {
    const h = harness();
    await setRelease('Unverified', 'MoveToUnverified');
    const before = await releaseRow();
    const row = await h.event(30, 'MoveToUnverified', 'provider1');
    h.steps.MoveToUnverified = [h.step('a')];
    await h.run();
    expect(h.trail).toEqual([]);
    expect(await releaseRow()).toEqual(before);
    expect(await transitionRows()).toMatchObject([
      { from_status: 'Unverified', to_status: 'Unverified', outcome: 'refused', code: 'RD_ACTION_NOT_ALLOWED' },
    ]);
    expect(await outbox()).toEqual([
      {
        marker: `inbox-${row.id}:refused`,
        kind: 'comment',
        text: '[RD_ACTION_NOT_ALLOWED] MoveToUnverified is not valid while RepoStatus is Unverified; actions valid now: MoveToStageRollOut, Reject. Nothing was changed.',
      },
    ]);
    expect(await inboxRows()).toMatchObject([{ state: 'done', outcome: 'RD_ACTION_NOT_ALLOWED' }]);
  });
});

describe('an event RT does not confirm', () => {
  it('is read again while RT does not show its transaction yet, and runs once RT does (RT calls the webhook from inside its request)', async () => {
    const h = harness();
    h.steps.MoveToUnverified = [h.step('a')];
    const reads: number[] = [];
    const read = h.rt.readTicket.bind(h.rt);
    h.rt.readTicket = async (id) => {
      reads.push(Date.now());
      if (reads.length === 3) h.rt.change(TICKET, { id: 12, action: 'MoveToUnverified', by: 'provider1' }); // RT shows it at the third read
      return read(id);
    };
    await webhookEvent(t.db, TICKET, 12, { action: 'MoveToUnverified', actorName: 'provider1' });
    await h.run();
    expect(reads).toHaveLength(3);
    expect(reads[2]! - reads[0]!).toBeGreaterThanOrEqual(140); // 50 + 100 ms apart, not in a busy loop
    expect((await inboxRows()).map((r) => [r.transaction_id, r.state])).toEqual([[12, 'done']]);
    expect(h.trail).toEqual(['run a']);
  });

  it('is ignored with the reason on its inbox row: a transaction RT does not have, one made by the service user, an unknown ticket, another queue', async () => {
    const h = harness();
    h.steps.MoveToUnverified = [h.step('a')];
    h.rt.change(TICKET, { id: 11, action: 'MoveToUnverified', by: 'releasedesk' });
    h.rt.ticket(3, ['prov@example.org'], 'General').change(3, { id: 30, action: 'MoveToUnverified', by: 'provider1' });
    const raw = (ticketId: number, txn: number) => webhookEvent(t.db, ticketId, txn);
    await raw(TICKET, 10); // RT has no transaction 10
    await raw(TICKET, 11);
    await raw(2, 20); // RT has no ticket 2
    await raw(3, 30);
    await h.run();
    await h.run({}, [lockKeys.ticket(2)], 2);
    await h.run({}, [lockKeys.ticket(3)], 3);
    const rows = await t.db('inbox').orderBy('id');
    expect(rows.map((r) => [r.transaction_id, r.state, r.outcome])).toEqual([
      [10, 'ignored', 'transaction 10 is not a RepoAction change of ticket 1 in RT'],
      [11, 'ignored', 'made by the service user'],
      [20, 'ignored', 'ticket 2 not found in RT'],
      [30, 'ignored', 'ticket is in queue General'],
    ]);
    expect(h.trail).toEqual([]);
    expect(await t.db('releases')).toEqual([]);
    expect(await t.db('transitions')).toEqual([]);
    expect(await t.db('outbox')).toEqual([]);
  });
});

describe('an action that fails', () => {
  it('permanently: undoes the steps done, newest first, and ends Failed with a comment naming the code', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    const digest = new RdError('RD_DIGEST_MISMATCH', 'foo-1.2.rpm: sha256 abc…, expected def…');
    h.steps.MoveToUnverified = [
      h.step('a', { out: { made: 'a' } }),
      h.step('b', { undo: false }),
      h.step('c', { out: ['c'] }),
      h.step('d', { fail: () => digest }),
      h.step('e'),
    ];
    await h.run({ finalAttempt: false }); // permanent: no retry, whatever the attempt
    expect(h.trail).toEqual(['run a', 'run b', 'run c', 'run d', 'undo c ["c"]', 'undo a {"made":"a"}']);
    expect(await releaseRow()).toMatchObject({ status: 'Failed', active_inbox_id: null, repo_uri: null });
    const text =
      'MoveToUnverified failed.\n\n[RD_DIGEST_MISMATCH] foo-1.2.rpm: sha256 abc…, expected def…\n\n' +
      'What to do: Upload the right file or correct the sha256 attribute in release.xml.';
    expect(await transitionRows()).toMatchObject([
      { from_status: 'New', to_status: 'Failed', outcome: 'failed', code: 'RD_DIGEST_MISMATCH', reason: text },
    ]);
    expect(await outbox()).toEqual([
      { marker: `inbox-${row.id}:start`, kind: 'fields', fields: { RepoStatus: 'Processing' } },
      { marker: `inbox-${row.id}:failed:fields`, kind: 'fields', fields: { RepoStatus: 'Failed' } },
      { marker: `inbox-${row.id}:failed:comment`, kind: 'comment', text },
    ]);
    expect(await inboxRows()).toMatchObject([{ state: 'failed', outcome: 'RD_DIGEST_MISMATCH' }]);
  });

  it('permanently, where the transition table says unchanged: the release goes back to the status it had', async () => {
    const h = harness();
    await setRelease('Unverified', 'MoveToUnverified');
    const row = await h.event(20, 'MoveToStageRollOut', 'tu1');
    h.steps.MoveToStageRollOut = [h.step('s'), h.step('t', { fail: () => new RdError('RD_CONTENT_MISSING', 'x.rpm is gone') })];
    await h.run();
    expect(h.trail).toEqual(['run s', 'run t', 'undo s {"from":"s"}']);
    expect(await releaseRow()).toMatchObject({ status: 'Unverified', active_inbox_id: null });
    expect(await transitionRows()).toMatchObject([
      { from_status: 'Unverified', to_status: 'Unverified', outcome: 'failed', code: 'RD_CONTENT_MISSING' },
    ]);
    // no notice: the release was handed to nobody (it would re-add a group someone took off the ticket)
    expect((await outbox()).slice(1)).toMatchObject([
      { marker: `inbox-${row.id}:failed:fields`, fields: { RepoStatus: 'Unverified' } },
      { marker: `inbox-${row.id}:failed:comment`, text: expect.stringContaining('[RD_CONTENT_MISSING] x.rpm is gone') },
    ]);
  });

  it('transiently: rethrown with one "retrying" comment however often; the retries resume; the final attempt undoes and fails', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    const unavailable = new RdError('RD_DOWNLOAD_UNAVAILABLE', 'GET http://dl.example/x.rpm: HTTP 503');
    let failure: unknown = unavailable;
    h.steps.MoveToUnverified = [h.step('a'), h.step('b', { fail: () => failure }), h.step('c')];
    const opts = { finalAttempt: false, retryWindowMs: 5 * 60_000 };
    await expect(h.run(opts)).rejects.toBe(unavailable);
    await expect(h.run(opts)).rejects.toBe(unavailable);
    expect(h.trail).toEqual(['run a', 'run b', 'run b']); // a is checkpointed; nothing is undone
    expect(await releaseRow()).toMatchObject({ status: 'Processing', active_inbox_id: row.id });
    expect(await transitionRows()).toMatchObject([{ outcome: 'running', to_status: 'Processing' }]);
    expect(await inboxRows()).toMatchObject([{ state: 'pending' }]);
    const out = await outbox();
    expect(out.map((o) => o.marker)).toEqual([`inbox-${row.id}:start`, `inbox-${row.id}:retrying`]);
    expect(out[1].text).toMatch(
      /^MoveToUnverified has not succeeded yet; releasedesk tries again by itself for about 5 minutes\.\n\n\[RD_DOWNLOAD_UNAVAILABLE\] GET/,
    );

    failure = new Error('socket hang up at 10.1.2.3');
    await h.run({ finalAttempt: true });
    expect(h.trail.slice(3)).toEqual(['run b', 'undo a {"from":"a"}']);
    expect(await releaseRow()).toMatchObject({ status: 'Failed' });
    const last = (await outbox()).at(-1);
    expect(last).toMatchObject({
      marker: `inbox-${row.id}:failed:comment`,
      text: expect.stringContaining(`[RD_INTERNAL] internal error, reference inbox-${row.id}`),
    });
    expect(last.text).not.toContain('socket hang up'); // internals stay in the log
    expect(await transitionRows()).toMatchObject([{ outcome: 'failed', code: 'RD_INTERNAL' }]);
  });

  it('transiently with RD_BUSY: rethrown without a word on the ticket', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    const busy = new RdError('RD_BUSY', 'repo:unverified:P.x is held by another job');
    h.steps.MoveToUnverified = [h.step('a', { fail: () => busy })];
    await expect(h.run({ finalAttempt: false })).rejects.toBe(busy);
    expect((await outbox()).map((o) => o.marker)).toEqual([`inbox-${row.id}:start`]);
    expect(await releaseRow()).toMatchObject({ status: 'Processing' });
  });
});

/** The PostgreSQL backends holding the advisory lock of `key` in this database. */
const holders = async (key: string): Promise<number[]> =>
  (
    await t.db.raw(
      `
  SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 0)`,
      [key],
    )
  ).rows.map((r: { pid: number }) => r.pid);

describe('a rerun after the worker was killed', () => {
  it('resumes the action left Processing: the checkpointed steps are skipped, their outputs restored, no second start', async () => {
    const h = harness();
    const row = await h.event(10, 'MoveToUnverified', 'provider1');
    let reached: () => void = () => undefined;
    const inC = new Promise<void>((ok) => {
      reached = ok;
    });
    let killed = true;
    const seenByD: unknown[] = [];
    h.steps.MoveToUnverified = [
      h.step('a', { out: { n: 'a-out' } }),
      h.step('b'),
      h.step('c', {
        during: async () => {
          if (killed) {
            reached();
            await new Promise(() => undefined);
          }
        },
      }), // hangs: the worker dies here
      {
        id: 'd',
        run: async (ctx) => {
          seenByD.push(ctx.outputs.a);
          return null;
        },
      },
    ];
    void h.run(); // never settles, like a process killed with -9
    await inC;
    const pids = await holders(lockKeys.ticket(TICKET));
    expect(pids).toHaveLength(1);
    await t.db.raw('SELECT pg_terminate_backend(?)', [pids[0]!]); // its session, and its locks, go with it
    expect(await releaseRow()).toMatchObject({ status: 'Processing', active_inbox_id: row.id });
    expect(await checkpointSteps(row.id)).toEqual(['a', 'b']);

    killed = false;
    await h.run();
    expect(h.trail).toEqual(['run a', 'run b', 'run c', 'run c']);
    expect(seenByD).toEqual([{ n: 'a-out' }]);
    expect(await releaseRow()).toMatchObject({ status: 'Unverified', active_inbox_id: null });
    expect(await transitionRows()).toMatchObject([{ outcome: 'ok', from_status: 'New', to_status: 'Unverified' }]);
    expect((await outbox()).map((o) => o.marker)).toEqual(
      ['start', 'ok:fields', 'ok:comment', 'ok:notice'].map((m) => `inbox-${row.id}:${m}`),
    );
    expect(await inboxRows()).toMatchObject([{ state: 'done', outcome: 'ok' }]);
  });
});

describe("a step's early read (Step.early)", () => {
  /** A step whose early read and run are written to `log`; its output is what run was given. */
  const earlyStep = (id: string, log: string[], read: () => Promise<string>): Step<unknown, string> => ({
    id,
    early: async () => {
      log.push(`${id} early read starts`);
      return read();
    },
    run: async (_ctx, early) => {
      log.push(`${id} runs`);
      return { given: early === undefined ? 'nothing' : await early };
    },
  });
  /** RT's read of the ticket, slowed, its start and end in `log`. */
  const slowTicketRead = (h: ReturnType<typeof harness>, log: string[]) => {
    const readTicket = h.rt.readTicket.bind(h.rt);
    h.rt.readTicket = async (id: number) => {
      log.push('ticket read starts');
      await sleep(30);
      log.push('ticket read ends');
      return readTicket(id);
    };
  };

  it("goes out with the job's read of the ticket, once, and the step gets it; a later event of the job reads for itself", async () => {
    const h = harness();
    const log: string[] = [];
    slowTicketRead(h, log);
    const first = await h.event(10, 'MoveToUnverified', 'provider1');
    const second = await h.event(11, 'MoveToStageRollOut', 'tu1');
    h.steps.MoveToUnverified = [earlyStep('m', log, async () => 'the xml')];
    h.steps.MoveToStageRollOut = [earlyStep('s', log, async () => 'not asked')];
    await h.run();
    expect(log).toEqual(['m early read starts', 'ticket read starts', 'ticket read ends', 'm runs', 's runs']);
    const outputs = await t.db('checkpoints').whereIn('inbox_id', [first.id, second.id]).orderBy('inbox_id').pluck('output');
    expect(outputs).toEqual([{ given: 'the xml' }, { given: 'nothing' }]);
  });

  it("that fails is the step's failure, with its code on the ticket", async () => {
    const h = harness();
    await h.event(10, 'MoveToUnverified', 'provider1');
    h.steps.MoveToUnverified = [
      earlyStep('m', [], async () => {
        throw new RdError('RD_XML_MALFORMED', 'release.xml: line 3: unclosed tag');
      }),
    ];
    await h.run({ finalAttempt: true });
    expect(await releaseRow()).toMatchObject({ status: 'Failed' });
    expect(await inboxRows()).toMatchObject([{ state: 'failed', outcome: 'RD_XML_MALFORMED' }]);
  });

  it('is dropped, failure and all, when the event does not run: refused, or another action in RT than the webhook said', async () => {
    const h = harness();
    const log: string[] = [];
    const refused = await h.event(10, 'MoveToUnverified', 'stranger');
    const failing = async () => {
      await sleep(5);
      throw new RdError('RD_ATTACHMENT_MISSING', 'no release.xml');
    };
    h.steps.MoveToUnverified = [earlyStep('m', log, failing)];
    await h.run();
    expect(log).toEqual(['m early read starts']);
    expect(await inboxRows()).toMatchObject([{ id: refused.id, state: 'done', outcome: 'RD_ROLE_FORBIDDEN' }]);
    // the webhook said MoveToUnverified; RT's record says Reject, which runs (and is refused: nothing to reject)
    h.rt.change(TICKET, { id: 20, action: 'Reject', by: 'tu1' });
    await webhookEvent(t.db, TICKET, 20, { action: 'MoveToUnverified', actorName: 'tu1' });
    await h.run();
    expect(log).toEqual(['m early read starts', 'm early read starts']);
    await sleep(20); // an unhandled rejection of either read would fail the run here
  });
});

describe('backfill', () => {
  it('an earlier RepoAction change RT has and the inbox lacks is taken in and run first', async () => {
    const h = harness();
    h.rt.change(TICKET, { id: 10, action: 'MoveToUnverified', by: 'provider1' }); // its webhook never came
    const later = await h.event(20, 'MoveToStageRollOut', 'tu1');
    h.steps.MoveToUnverified = [h.step('u')];
    h.steps.MoveToStageRollOut = [h.step('s')];
    await h.run();
    expect(h.trail).toEqual(['run u', 'run s']);
    const rows = await inboxRows();
    expect(rows.map((r) => [r.transaction_id, r.source, r.state, r.action, r.actor_name])).toEqual([
      [20, 'webhook', 'done', 'MoveToStageRollOut', 'tu1'],
      [10, 'backfill', 'done', 'MoveToUnverified', 'provider1'],
    ]);
    expect(rows[1].enqueued_at).not.toBeNull(); // run in this job: the relay must not hand it to another
    expect(rows[1].payload).toEqual({ backfilledBefore: 20 });
    expect((await transitionRows()).map((r) => [r.transaction_id, r.from_status, r.to_status, r.outcome])).toEqual([
      [10, 'New', 'Unverified', 'ok'],
      [20, 'Unverified', 'StageRollOut', 'ok'],
    ]);
    expect(await releaseRow()).toMatchObject({ status: 'StageRollOut' });
    expect(later.id).toBe(rows[0].id);
  });
});

describe('locks', () => {
  const repoKey = lockKeys.repo('production', 'P.x');
  let probe: pg.Client;
  beforeAll(async () => {
    probe = await lockSession(t.db);
  });
  afterAll(async () => {
    await probe.end();
  });

  it("are the job's exclusive keys, held while the steps run and released after", async () => {
    const h = harness();
    await h.event(10, 'MoveToUnverified', 'provider1');
    const seen: Record<string, boolean> = {};
    const other = lockKeys.repo('unverified', 'P.x');
    h.steps.MoveToUnverified = [
      h.step('a', {
        during: async () => {
          for (const k of [lockKeys.ticket(TICKET), repoKey, other]) seen[k] = await tryLock(probe, k);
          if (seen[other]) await unlock(probe, other);
        },
      }),
    ];
    await h.run({}, [lockKeys.ticket(TICKET), repoKey]);
    expect(seen).toEqual({ [lockKeys.ticket(TICKET)]: false, [repoKey]: false, [other]: true });
    expect(await holders(lockKeys.ticket(TICKET))).toEqual([]);
    expect(await holders(repoKey)).toEqual([]);
  });

  it('a declared key someone else holds makes the job wait for it; an undeclared one does not', async () => {
    const h = harness();
    await h.event(10, 'MoveToUnverified', 'provider1');
    h.steps.MoveToUnverified = [h.step('a')];
    expect(await tryLock(probe, repoKey)).toBe(true);
    try {
      const job = h.run({}, [lockKeys.ticket(TICKET), repoKey]);
      await new Promise((ok) => setTimeout(ok, 300));
      expect(h.trail).toEqual([]); // still waiting for the repository's lock
      await unlock(probe, repoKey);
      await job;
      expect(h.trail).toEqual(['run a']);

      await h.event(20, 'MoveToStageRollOut', 'tu1');
      h.steps.MoveToStageRollOut = [h.step('s')];
      expect(await tryLock(probe, repoKey)).toBe(true);
      await h.run(); // declares only the ticket's key
      expect(h.trail).toEqual(['run a', 'run s']);
    } finally {
      await unlock(probe, repoKey);
    }
  });
});

describe('an imported release', () => {
  const imported = async (desk: string) => {
    const rel = await releaseRow();
    await t.db('bundle_imports').insert({
      release_id: rel.id,
      source_desk: desk,
      source_url: 'http://central.test',
      source_ticket: 77,
      bundle_sha256: 'c'.repeat(64),
      signed_by: 'F'.repeat(40),
      manifest: '{}',
    });
  };

  it('reaching a status its source hears of queues that status to the source desk, with the ticket write-backs', async () => {
    const h = harness({ PEERS: 'central=http://central.test|central-secret-0123456789' });
    await setRelease('Unverified');
    await imported('central');
    await h.event(20, 'Reject', 'tu1');
    await h.run();
    expect(await releaseRow()).toMatchObject({ status: 'Rejected' });
    const toSource = (await t.db('outbox').where({ ticket_id: TICKET, kind: 'peer-status' })).map((r) => ({
      channel: r.channel,
      ...r.payload,
    }));
    expect(toSource).toEqual([{ channel: 'peer:central', kind: 'peer-status', peer: 'central', sourceTicket: 77, status: 'Rejected' }]);
  });

  it('a release from a desk not in PEERS tells nobody', async () => {
    const h = harness({ PEERS: 'central=http://central.test|central-secret-0123456789' });
    await setRelease('Unverified');
    await imported('elsewhere');
    await h.event(21, 'Reject', 'tu1');
    await h.run();
    expect(await releaseRow()).toMatchObject({ status: 'Rejected' });
    expect(await t.db('outbox').where({ ticket_id: TICKET, kind: 'peer-status' })).toEqual([]);
  });

  it('a failed action tells the source nothing', async () => {
    const h = harness({ PEERS: 'central=http://central.test|central-secret-0123456789' });
    await setRelease('Unverified');
    await imported('central');
    h.steps.Reject = [h.step('s', { fail: () => new RdError('RD_CONTENT_MISSING', 'gone') })];
    await h.event(22, 'Reject', 'tu1');
    await h.run();
    expect(await releaseRow()).toMatchObject({ status: 'Unverified' });
    expect(await t.db('outbox').where({ ticket_id: TICKET, kind: 'peer-status' })).toEqual([]);
  });
});
