/**
 * Redis and PostgreSQL restarts mid-load: tickets walk MoveToUnverified > MoveToStageRollOut >
 * MoveToProduction while the service's Redis is SIGKILLed (it keeps nothing on disk, so every queued job
 * is lost) and its PostgreSQL is stopped with -m immediate, each brought back a few seconds later, with
 * people acting in RT all along. The service is never touched: the same API (here) and worker (a child
 * process) must recover by themselves, lose nothing and do nothing twice: /healthz names what is down and
 * is 200 again after; every action takes effect once, in order; RT shows each status and each comment
 * once; nothing is left pending in the inbox or undelivered in the outbox.
 *
 * The Redis and PostgreSQL are private to this file (test/support/private-services.ts), never the shared
 * ones. Short by default (4 tickets, one outage of each, ~1 min); FAULTS_SCALE=n gives n rounds of four
 * tickets, each with one outage of each (npm run test:chaos).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../config/index.ts';
import { openTicket, opMarkers, repoStatus, rpmSpec, finalStatuses, useE2E } from '../support/e2e.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../support/private-services.ts';
import { releaseXml } from '../support/release-xml.ts';
import { RT_QUEUE, RT_URL, rtClient } from '../support/rt.ts';
import { E2E_SECRET } from '../support/service.ts';

const scale = Math.max(1, Number(process.env.FAULTS_SCALE ?? 1));
const TICKETS = 4 * scale;
const ROUNDS = scale;
/** How long each outage lasts at least (the actions fired during it may stretch it). */
const OUTAGE_MS = 4_000;
/** How long the service may take to be healthy again once Redis or PostgreSQL is back. */
const RECOVER_MS = 30_000;

const root = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The private instances must exist before useE2E starts the API on them: this beforeAll is registered
// first, so it runs first and fills `over`, which useE2E reads in its own beforeAll; this afterAll runs
// last, after the service has stopped.
let pg: PrivatePostgres;
let redis: PrivateRedis;
// one job at a time: jobs wait in Redis, so a Redis restart has queued jobs to forget
const over: Partial<Record<keyof Config, string>> = { RECONCILE_INTERVAL_MS: '2000', WORKER_CONCURRENCY: '1' };
beforeAll(async () => {
  pg = await startPrivatePostgres();
  redis = await startPrivateRedis();
  over.DATABASE_URL = pg.url('releasedesk');
  over.REDIS_URL = redis.url;
}, 120_000);
afterAll(async () => {
  await redis?.stop();
  await pg?.destroy();
});
// The API (webhook, /healthz) runs here; the worker (jobs, outbox, relay, reconciler) is a child process.
const e = useE2E(over, 'api');

type Who = 'provider1' | 'tug1' | 'rollout1';
const STEPS = [
  { action: 'MoveToUnverified', who: 'provider1', want: 'Unverified' },
  { action: 'MoveToStageRollOut', who: 'tug1', want: 'StageRollOut' },
  { action: 'MoveToProduction', who: 'rollout1', want: 'Production' },
] as const satisfies ReadonlyArray<{ action: string; who: Who; want: string }>;

interface Act {
  ticket: number;
  step: number;
  during?: 'redis' | 'postgres';
  txn?: number;
}
interface Phase {
  during?: 'redis' | 'postgres';
  acts: Act[];
}

/**
 * One round drives four tickets a, b, c, d: their first two actions and a's last, so jobs queue up behind
 * the one worker slot; then Redis is killed (a's last action is among the jobs it forgets, and nothing
 * later comes for a: only the relay can notice); b's last action while Redis is down (the hand-over to
 * the queue fails); c's after; d's while PostgreSQL is down (its webhook fails: only the reconciler can
 * bring it in).
 */
function roundPlan([a, b, c, d]: number[]): Phase[] {
  const act = (ticket: number, step: number): Act => ({ ticket, step });
  const all = [a!, b!, c!, d!];
  return [
    { acts: [...all.map((t) => act(t, 0)), ...all.map((t) => act(t, 1)), act(a!, 2)] },
    { during: 'redis', acts: [act(b!, 2)] },
    { acts: [act(c!, 2)] },
    { during: 'postgres', acts: [act(d!, 2)] },
  ];
}

function startWorker(log: NodeJS.WritableStream) {
  const proc: ChildProcess = spawn(process.execPath, ['services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...e.svc.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      log.write(b);
      if (b.includes('"worker started"')) resolve();
    });
    proc.once('exit', (code, sig) => reject(new Error(`worker exited (${code ?? sig}) before it started`)));
  });
  proc.stderr!.on('data', (b: Buffer) => log.write(b));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    ready,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}

interface Health {
  status: number;
  checks: Record<string, string>;
}
async function health(): Promise<Health> {
  const res = await fetch(`${e.svc.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}
async function waitHealth(ok: (h: Health) => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  let last: Health | undefined;
  while (Date.now() - t0 < ms) {
    last = await health().catch(() => last);
    if (last && ok(last)) return Date.now() - t0;
    await sleep(250);
  }
  throw new Error(`/healthz: not ${what} within ${ms} ms; last ${JSON.stringify(last)}`);
}

const webhookErrors = async () =>
  (await e.svc.metrics.webhooks.get()).values.filter((v) => v.labels.outcome === 'error').reduce((n, v) => n + v.value, 0);

/** A signed copy of what RT's scrip posts for a RepoAction change. */
async function postReplica(
  ticket: number,
  txn: { id: number; oldValue: string | null; newValue: string | null; creator: string; created: string },
) {
  const raw = Buffer.from(
    JSON.stringify({
      event: 'customfield.changed',
      ticket_id: ticket,
      queue: RT_QUEUE,
      subject: '',
      transaction_id: txn.id,
      field: 'RepoAction',
      field_id: await e.rt.customFieldId('RepoAction'),
      old_value: txn.oldValue,
      new_value: txn.newValue,
      actor: { id: 0, name: txn.creator },
      created: txn.created,
      rt_url: RT_URL,
    }),
  );
  const res = await fetch(e.svc.webhookUrl, {
    method: 'POST',
    body: raw,
    headers: {
      'content-type': 'application/json',
      'x-rt-signature': `sha256=${createHmac('sha256', E2E_SECRET).update(raw).digest('hex')}`,
    },
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Takes Redis or PostgreSQL down, checks /healthz names it, fires the phase's actions in RT meanwhile,
 * brings it back after OUTAGE_MS and waits for /healthz to be 200; returns a line for the summary.
 */
async function outage(what: 'redis' | 'postgres', acts: Act[], fire: (a: Act) => Promise<void>, forgotten: number[]): Promise<string> {
  const errorsBefore = await webhookErrors();
  const start = Date.now();
  if (what === 'redis') {
    // the jobs of these events are in Redis now (waiting or running), and Redis is about to forget them
    const [q] = await e.svc.db('inbox').where({ state: 'pending' }).count({ n: '*' });
    forgotten.push(Number(q!.n));
    await redis.kill('SIGKILL');
  } else await pg.stop('immediate');
  let h: Health | undefined;
  await waitHealth(
    (x) => {
      h = x;
      return x.status === 503;
    },
    10_000,
    `degraded during the ${what} outage`,
  );
  expect(h!.checks[what], `/healthz during the ${what} outage`).toMatch(/^down: /);
  expect(h!.checks[what === 'redis' ? 'postgres' : 'redis'], `/healthz during the ${what} outage`).toBe('ok');
  for (const a of acts) {
    a.during = what;
    await fire(a);
    await sleep(300);
  }
  if (what === 'postgres') {
    // RT's deliveries got an error answer (RT does not redeliver: the reconciler must find the change)
    expect(await webhookErrors(), 'webhook deliveries answered with an error while PostgreSQL was down').toBeGreaterThanOrEqual(
      errorsBefore + acts.length,
    );
    const last = acts.at(-1)!;
    const txn = (await e.rt.getCustomFieldTransactions(last.ticket)).find((x) => x.id === last.txn)!;
    expect(await postReplica(last.ticket, txn), 'a webhook delivery while PostgreSQL is down').toBeGreaterThanOrEqual(500);
  }
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - start)));
  if (what === 'redis') await redis.start();
  else await pg.start();
  const took = await waitHealth((x) => x.status === 200, RECOVER_MS, `healthy after the ${what} restart`);
  return `${what} down ${((Date.now() - start - took) / 1000).toFixed(1)} s, healthy ${(took / 1000).toFixed(1)} s after`;
}

/** The ticket in the database and in RT is exactly where its three actions lead, each taken once. */
async function expectTicket(t: number, mine: Act[]) {
  const label = `ticket ${t}`;
  expect((await e.svc.db('releases').where({ ticket_id: t }).first())?.status, label).toBe('Production');
  // each RT change arrived once and took effect once, in order
  const inbox = await e.svc.db('inbox').where({ ticket_id: t }).orderBy('transaction_id');
  expect(
    inbox.map((r) => [Number(r.transaction_id), r.action, r.state]),
    label,
  ).toEqual(mine.map((a) => [a.txn, STEPS[a.step]!.action, 'done']));
  const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
  expect(
    tr.map((r) => [r.action, r.outcome, r.to_status]),
    label,
  ).toEqual(STEPS.map((s) => [s.action, 'ok', s.want]));
  expect(
    tr.map((r) => Number(r.inbox_id)),
    label,
  ).toEqual(inbox.map((r) => Number(r.id)));
  // a change whose webhook PostgreSQL could not take (and nothing came after it) was found by the reconciler
  for (const a of mine.filter((x) => x.during === 'postgres')) {
    expect(inbox.find((r) => Number(r.transaction_id) === a.txn)?.source, `${label} ${STEPS[a.step]!.action}`).toBe('reconciler');
  }
  // RT saw each status once, in order, and each comment once
  expect(await finalStatuses(e, t), label).toEqual(STEPS.map((s) => s.want));
  // each comment once; a transient failure on the way (a restart) adds its one notice
  const said = await opMarkers(e, t);
  expect(
    said.filter((m) => !m.endsWith(':retrying')),
    label,
  ).toEqual(inbox.map((r) => `inbox-${r.id}:ok:comment`));
  expect(new Set(said).size, label).toBe(said.length);
}

describe('Redis and PostgreSQL restarts under load', () => {
  it(
    `${TICKETS} tickets x 3 actions, ${ROUNDS} Redis and ${ROUNDS} PostgreSQL restart(s): the service recovers by itself, nothing lost or doubled`,
    async () => {
      const t0 = Date.now();
      const clients = { provider1: e.prov, tug1: rtClient('tug1'), rollout1: rtClient('rollout1') };
      const actionField = await e.rt.customFieldId('RepoAction');
      // a slow download and no declared digest (so nothing is skipped): MoveToUnverified takes ~3 s, and
      // the outages land in the middle of work
      const pkg = e.pkgs.rpm('testpkg');
      e.provider.route(`/slow/${pkg.filename}`, { body: await readFile(pkg.path), intervalMs: 25, chunkSize: 50 });
      const spec = rpmSpec(e, 'testpkg', { url: `${e.provider.url}/slow/${pkg.filename}`, sha256: undefined });
      const tickets = await Promise.all(
        Array.from({ length: TICKETS }, (_, i) =>
          openTicket(e, releaseXml({ product: `TESTTP.rst${i}.${e.run}`, packages: [spec] }), `restarts ${i}`),
        ),
      );
      const logFile = path.join(await mkdtemp(path.join(tmpdir(), 'rd-restarts-')), 'worker.log');
      const log = createWriteStream(logFile, { flags: 'a' });
      console.log(`restarts: ${TICKETS * 3} actions over ${TICKETS} tickets, ${ROUNDS} outage(s) of each; worker log ${logFile}`);

      const fire = async (a: Act) => {
        const s = STEPS[a.step]!;
        await clients[s.who].setCustomFields(a.ticket, { RepoAction: s.action });
        a.txn = (await e.rt.getCustomFieldTransactions(a.ticket)).filter((h) => h.field === actionField).at(-1)!.id;
      };
      const phases = Array.from({ length: ROUNDS }, (_, r) => roundPlan(tickets.slice(4 * r, 4 * r + 4))).flat();
      const acts = phases.flatMap((p) => p.acts);
      const recoveries: string[] = [];
      const forgotten: number[] = [];
      let faultsOverAt = 0;

      const worker = startWorker(log);
      const pid = worker.proc.pid;
      try {
        await worker.ready;
        for (const phase of phases) {
          const what = phase.during;
          if (!what) {
            for (const a of phase.acts) {
              await fire(a);
              await sleep(300);
            }
            await sleep(1_000); // let the jobs get going: the outage lands mid-work
            continue;
          }
          recoveries.push(await outage(what, phase.acts, fire, forgotten));
        }
        faultsOverAt = Date.now();

        // every ticket reaches Production, and the inbox and outbox drain, with nobody restarting anything
        const deadline = Date.now() + 240_000 * scale;
        const busy = async () => {
          const [a] = await e.svc.db('inbox').where({ state: 'pending' }).count({ n: '*' });
          const [b] = await e.svc.db('outbox').whereNull('delivered_at').count({ n: '*' });
          return Number(a!.n) + Number(b!.n);
        };
        let statuses: string[] = [];
        while (Date.now() < deadline && worker.proc.exitCode === null) {
          statuses = await Promise.all(tickets.map((t) => repoStatus(e, t)));
          if (statuses.every((s) => s === 'Production') && (await busy()) === 0) break;
          await sleep(1_000);
        }
        const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        console.log(
          `restarts: ${recoveries.join('; ')}; jobs Redis forgot: ${forgotten.join(', ')}; ` +
            `faults over ${secs(faultsOverAt - t0)} after start, all done ${secs(Date.now() - faultsOverAt)} later`,
        );
        // no manual step: the worker that was running before the first outage is the one that finished
        expect(worker.proc.exitCode, `worker exit code (log: ${logFile})`).toBeNull();
        expect(worker.proc.pid).toBe(pid);
        expect(
          forgotten.every((n) => n > 0),
          'Redis had queued jobs to forget at each restart',
        ).toBe(true);
        expect(statuses, 'RepoStatus of each ticket').toEqual(tickets.map(() => 'Production'));
        expect(
          await e.svc.db('inbox').where({ state: 'pending' }).select('id', 'ticket_id', 'action', 'enqueued_at'),
          'inbox rows left pending',
        ).toEqual([]);
        expect(
          await e.svc.db('outbox').whereNull('delivered_at').select('id', 'ticket_id', 'marker', 'last_error'),
          'write-backs left undelivered',
        ).toEqual([]);
      } finally {
        await worker.kill();
        log.end();
      }

      for (const t of tickets)
        await expectTicket(
          t,
          acts.filter((a) => a.ticket === t),
        );
      const product = `TESTTP.rst0.${e.run}`;
      const yum = await checkYumRepo(`${e.svc.url}/repos/production/${product}/`, 'testpkg');
      expect(yum.ok, `dnf reads ${product} in production: ${yum.output}`).toBe(true);
      expect((await health()).status).toBe(200);
    },
    420_000 * scale,
  );
});
