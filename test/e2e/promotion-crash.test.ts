import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { comments, filesUnder, finalStatuses, openTicket, repoStatus, rpmSpec, useE2E } from '../support/e2e.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';
import { rtClient } from '../support/rt.ts';
import { lockKeys } from '../../services/db/locks.ts';
import { plans } from '../../workers/steps/index.ts';

/*
 * The two promises of promotion, on the real RT, PostgreSQL, Redis, createrepo_c and dnf:
 *  1. a worker killed with SIGKILL at any step boundary of a promotion leaves every repository index
 *     holding all of the release's packages or none, and the release wholly in the source or the target;
 *  2. two actions on one ticket never interleave, and run in RT's order; other tickets go on meanwhile.
 *
 * The API runs in this process; workers are child processes. Kills are placed deterministically, without
 * hooks in the service: the test holds, in an open PostgreSQL transaction, the checkpoint row of the step
 * to stop at (or the release row, to stop at the final status change), so the worker stops exactly there
 * (the step done, its checkpoint insert waiting on the test's row). Then it is killed, and the test either
 * lets the orphaned insert commit (the step recorded: "killed right after its checkpoint appeared") or
 * terminates it first (the step done but not recorded: "killed inside the step").
 *
 * PROMO_CRASH_LOGS=<dir> keeps each worker's log (debug level) in <dir>/<worker>.log.
 */
const e = useE2E({ WORKER_LOCK_MS: '1000' }, 'api');
const root = path.resolve(import.meta.dirname, '../..');

const STAGES = ['unverified', 'stage-rollout', 'production'] as const;
type Stage = (typeof STAGES)[number];
type Holding = 'all' | 'none' | `partial: ${string}`;
const FINISH = 'finish';

// ---------- worker processes: only the ones started here are ever stopped, by their handle ----------

/**
 * Live workers by name. The name is the application_name of their PostgreSQL sessions (PGAPPNAME), so the
 * test knows which process a waiting backend belongs to. A few are kept running: node takes a second or more
 * to start on a busy machine, and a spare takes a killed worker's job over as soon as its lock expires.
 */
const workers = new Map<string, ChildProcess>();
const SPARE_WORKERS = 3;
let workerSeq = 0;
const LOGS = process.env.PROMO_CRASH_LOGS;

const t0 = Date.now();
/** With PROMO_CRASH_LOGS: where the time goes, on stderr. */
const trace = (what: string) => {
  if (LOGS) process.stderr.write(`[promotion-crash +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
};

function startWorker(): string {
  const name = `rd-crash-${e.run}-${++workerSeq}`;
  const p = spawn(process.execPath, ['services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...e.svc.env, PGAPPNAME: name, ...(LOGS ? { LOG_LEVEL: 'debug' } : {}) },
    stdio: ['ignore', LOGS ? 'pipe' : 'ignore', 'inherit'],
  });
  if (LOGS) p.stdout!.pipe(createWriteStream(path.join(LOGS, `${name}.log`)));
  workers.set(name, p);
  p.once('exit', () => workers.delete(name));
  return name;
}
const ensureWorkers = (n = SPARE_WORKERS) => {
  while (workers.size < n) startWorker();
};

const kill9 = (p: ChildProcess) =>
  new Promise<void>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
async function killWorker(name: string): Promise<void> {
  const p = workers.get(name);
  if (!p) throw new Error(`${name} is not a worker started by this test`);
  await kill9(p);
}
afterAll(async () => {
  for (const p of [...workers.values()]) await kill9(p);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 60_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

// ---------- holding the worker at an exact point, from PostgreSQL ----------

interface Waiter {
  pid: number;
  query: string;
  app: string;
  /** from the same snapshot as query: 'Lock' once the statement shown is the one that waits */
  wait: string | null;
}

/** A PostgreSQL session of the test that holds something a worker will need. */
class Hold {
  /** a statement of this session is still waiting (then ending the session is the only way out) */
  private waiting = false;
  private released = false;
  private readonly c: pg.Client;
  readonly pid: number;
  readonly what: string;

  private constructor(c: pg.Client, pid: number, what: string) {
    this.c = c;
    this.pid = pid;
    this.what = what;
  }

  private static async open(what: string): Promise<Hold> {
    const c = new pg.Client({ connectionString: e.svc.env.DATABASE_URL });
    await c.connect();
    const { rows } = await c.query('SELECT pg_backend_pid() AS pid');
    return new Hold(c, rows[0].pid as number, what);
  }

  /** The checkpoint row of (inbox, step), inserted and not committed: the worker's own insert of it waits. */
  static async checkpoint(inboxId: number, step: string): Promise<Hold> {
    const h = await Hold.open(`checkpoint ${step} of inbox ${inboxId}`);
    await h.c.query('BEGIN');
    await h.c.query('INSERT INTO checkpoints (inbox_id, step, output) VALUES ($1, $2, $3)', [
      inboxId,
      step,
      JSON.stringify('held by test'),
    ]);
    return h;
  }

  /** The release row, locked: the final compare-and-set of the status waits. */
  static async releaseRow(ticketId: number): Promise<Hold> {
    const h = await Hold.open(`release row of ticket ${ticketId}`);
    await h.c.query('BEGIN');
    await h.c.query('SELECT id FROM releases WHERE ticket_id = $1 FOR UPDATE', [ticketId]);
    return h;
  }

  /** A session-level advisory lock under the service's key scheme (services/db/locks.ts). */
  static async advisory(key: string): Promise<Hold> {
    const h = await Hold.open(`advisory lock ${key}`);
    await h.c.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    return h;
  }

  /** Asks for a session-level advisory lock without waiting for it; resolves once the request waits or holds. */
  static async advisoryQueued(key: string): Promise<{ hold: Hold; granted: Promise<void> }> {
    const h = await Hold.open(`advisory lock ${key}`);
    h.waiting = true;
    const granted = h.c.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]).then(() => {
      h.waiting = false;
    });
    granted.catch(() => undefined); // awaited by the caller; a failure must not go unhandled meanwhile
    await until(
      `the test's request for ${key}`,
      async () => (await e.svc.db.raw(`SELECT 1 FROM pg_locks WHERE pid = ? AND locktype = 'advisory'`, [h.pid])).rows.length > 0,
      10_000,
      20,
    );
    return { hold: h, granted };
  }

  /**
   * Backends waiting on this session: pid, statement and application_name (a worker's name). Asked on
   * another connection: inside the held transaction, pg_stat_activity keeps the snapshot of its first use.
   */
  async waiters(): Promise<Waiter[]> {
    const { rows } = await e.svc.db.raw(
      'SELECT pid, query, application_name AS app, wait_event_type AS wait FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))',
      [this.pid],
    );
    return rows;
  }

  /** Waits until backends wait on us running `match`; returns them (all from one worker). */
  async waitBlocked(match: RegExp, ms = 90_000): Promise<Waiter[]> {
    return until(
      `a worker to wait on ${this.what}`,
      async () => {
        const w = await this.waiters();
        // pg_blocking_pids is live but query comes from the snapshot taken at its first read, which can
        // predate the statement that now waits (CI saw the worker's BEGIN); read again until they agree
        if (w.length === 0 || w.some((x) => x.wait !== 'Lock')) return null;
        for (const x of w) expect(x.query, `a backend waits on ${this.what}`).toMatch(match);
        expect(new Set(w.map((x) => x.app)).size, `one worker waits on ${this.what}`).toBe(1);
        expect(workers.has(w[0]!.app), `${w[0]!.app} is one of the test's workers`).toBe(true);
        return w;
      },
      ms,
      50,
    );
  }

  /** Ends the waiting statements before they can go on (a backend whose client died would finish them). */
  async terminate(pids: number[]): Promise<void> {
    for (const pid of pids) await e.svc.db.raw('SELECT pg_terminate_backend(?)', [pid]);
    await this.gone(pids);
  }

  async gone(pids: number[]): Promise<void> {
    await until(
      `backends ${pids.join(',')} to end`,
      async () => (await e.svc.db.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY(?::int[])', [pids])).rows[0].n === 0,
      30_000,
      50,
    );
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (!this.waiting) await this.c.query('ROLLBACK').catch(() => undefined); // also harmless outside a transaction
    await this.c.end(); // ends the session: its advisory locks go with it
  }
}

// ---------- what the repositories list, read from the generated indexes ----------

interface Indexed {
  filename: string;
  sha256: string;
  size: number;
}

/**
 * The packages a YUM repository's live index lists (repomd.xml -> primary.xml.gz), read independently of
 * the service's code. Each listed package must be in the repository with the size and digest the index
 * gives; a repository never published lists nothing.
 */
async function indexOf(stage: Stage, product: string): Promise<Indexed[]> {
  const live = path.join(e.svc.storage, 'repos', stage, product);
  const dir = await realpath(live).catch((err) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
  if (dir === null) return [];
  const repomd = await readFile(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
  await expectSigned(path.join(dir, 'repodata', 'repomd.xml'), `${stage}/${product}`);
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)?.[1];
  expect(href, `${stage}/${product}: repomd.xml names a primary index`).toBeTruthy();
  const primary = (await promisify(gunzip)(await readFile(path.join(dir, href!)))).toString('utf8');
  const out: Indexed[] = [];
  for (const block of primary.split('<package type="rpm">').slice(1)) {
    const href = /<location href="([^"]+)"/.exec(block)?.[1] ?? '';
    const filename = path.basename(href);
    const sha256 = /<checksum type="sha256" pkgid="YES">([0-9a-f]{64})<\/checksum>/.exec(block)?.[1] ?? '';
    const size = Number(/<size package="(\d+)"/.exec(block)?.[1]);
    const st = await stat(path.join(dir, href)).catch(() => null);
    expect(st?.size, `${stage}/${product}: ${filename} listed and present with the listed size`).toBe(size);
    out.push({ filename, sha256, size });
  }
  return out;
}

let keyring: string | undefined;
/** The live repomd.xml verifies, with gpgv, against the key the service serves to sites (never unsigned). */
async function expectSigned(repomd: string, what: string): Promise<void> {
  if (!keyring) {
    const res = await fetch(`${e.svc.url}/keys/releasedesk.asc`);
    expect(res.status, 'the service serves its public key').toBe(200);
    const dir = await mkdtemp(path.join(tmpdir(), 'rd-crash-keys-'));
    await writeFile(path.join(dir, 'releasedesk.asc'), await res.text());
    await promisify(execFile)('gpg', [
      '--batch',
      '--yes',
      '-o',
      path.join(dir, 'releasedesk.gpg'),
      '--dearmor',
      path.join(dir, 'releasedesk.asc'),
    ]);
    keyring = path.join(dir, 'releasedesk.gpg');
  }
  const ok = await promisify(execFile)('gpgv', ['--keyring', keyring, `${repomd}.asc`, repomd]).then(
    () => true,
    (err: { stderr?: string }) => err.stderr ?? 'gpgv failed',
  );
  expect(ok, `${what}: repomd.xml carries a valid signature by the served key`).toBe(true);
}

/**
 * The packages the stage's distribution repository (every product; el9/noarch, releaseXml's default) lists:
 * signed like the product's, and each listed package present in the pool with the listed size.
 */
async function distIndexOf(stage: Stage): Promise<Indexed[]> {
  const live = path.join(e.svc.storage, 'repos', 'dist', 'yum', 'el9', 'noarch', stage);
  const dir = await realpath(live).catch((err) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
  if (dir === null) return [];
  const repomd = await readFile(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
  await expectSigned(path.join(dir, 'repodata', 'repomd.xml'), `distribution ${stage}`);
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)?.[1];
  const primary = (await promisify(gunzip)(await readFile(path.join(dir, href!)))).toString('utf8');
  const out: Indexed[] = [];
  for (const block of primary.split('<package type="rpm">').slice(1)) {
    const at = /<location href="(pool\/[^"]+)"/.exec(block)?.[1] ?? '';
    const sha256 = /<checksum type="sha256" pkgid="YES">([0-9a-f]{64})<\/checksum>/.exec(block)?.[1] ?? '';
    const size = Number(/<size package="(\d+)"/.exec(block)?.[1]);
    const st = await stat(path.join(dir, at)).catch(() => null);
    expect(st?.size, `distribution ${stage}: ${at} listed and present in the pool with the listed size`).toBe(size);
    out.push({ filename: path.basename(at), sha256, size });
  }
  return out;
}

const holding = (idx: Indexed[], pkgs: Indexed[]): Holding => {
  const have = pkgs.filter((p) => idx.some((x) => x.filename === p.filename && x.sha256 === p.sha256 && x.size === p.size));
  return have.length === pkgs.length ? 'all' : have.length === 0 ? 'none' : `partial: ${have.map((p) => p.filename).join(', ')}`;
};

/**
 * For each stage: does its index hold all of `pkgs` (same digests), none, or a part (named)? The product's
 * repository and the stage's distribution must agree; where they do not, both are named.
 */
async function holdings(product: string, pkgs: Indexed[]): Promise<Record<Stage, Holding>> {
  const out = {} as Record<Stage, Holding>;
  for (const stage of STAGES) {
    const own = holding(await indexOf(stage, product), pkgs);
    // the same bytes shipped by another product of this file's tests stay in the distribution, rightly
    const elsewhere = new Set<string>(
      await e.svc
        .db('packages as p')
        .join('stage_members as m', 'm.release_id', 'p.release_id')
        .join('releases as r', 'r.id', 'p.release_id')
        .where('m.stage', stage)
        .whereNot('r.product_short_name', product)
        .pluck('p.sha256'),
    );
    const mine = pkgs.filter((p) => !elsewhere.has(p.sha256));
    const dist = mine.length ? holding(await distIndexOf(stage), mine) : own;
    out[stage] = own === dist ? own : (`partial: product ${own}, distribution ${dist}` as Holding);
  }
  return out;
}

const recordedPackages = async (ticket: number): Promise<Indexed[]> =>
  (
    await e.svc
      .db('packages as p')
      .join('releases as r', 'r.id', 'p.release_id')
      .where('r.ticket_id', ticket)
      .orderBy('p.filename')
      .select('p.filename', 'p.sha256', 'p.size')
  ).map((p) => ({ filename: p.filename, sha256: p.sha256, size: Number(p.size) }));

/** Sets RepoAction and waits until the service has handled it and told RT; returns RepoStatus. */
async function act(ticket: number, who: ReturnType<typeof rtClient>, action: string): Promise<string> {
  return settled(ticket, (await setAction(ticket, who, action)).id);
}

/** Sets RepoAction; returns the inbox row the webhook made of it. */
async function setAction(ticket: number, who: ReturnType<typeof rtClient>, action: string): Promise<{ id: number }> {
  const before = Number((await e.svc.db('inbox').where({ ticket_id: ticket }).max({ m: 'id' }))[0]!.m ?? 0);
  await who.setCustomFields(ticket, { RepoAction: action });
  return until(`the ${action} event of ticket ${ticket}`, () =>
    e.svc.db('inbox').where({ ticket_id: ticket }).andWhere('id', '>', before).first(),
  );
}

/** Waits until the inbox row is handled and its write-backs reached RT; returns RepoStatus. */
async function settled(ticket: number, inboxId: number): Promise<string> {
  trace(`waiting for inbox ${inboxId} of ticket ${ticket}`);
  await until(
    `inbox ${inboxId} to be handled`,
    async () => (await e.svc.db('inbox').where({ id: inboxId }).first())?.state !== 'pending',
    90_000,
    200,
  );
  await outboxDrained(ticket);
  trace(`inbox ${inboxId} of ticket ${ticket} handled and written back`);
  return repoStatus(e, ticket);
}

async function outboxDrained(ticket: number): Promise<void> {
  await until(
    `ticket ${ticket}'s write-backs to reach RT`,
    async () => Number((await e.svc.db('outbox').where({ ticket_id: ticket }).whereNull('delivered_at').count({ n: '*' }))[0]!.n) === 0,
    60_000,
    200,
  );
}

const repoUrl = (stage: Stage, product: string) => `${e.svc.url}/repos/${stage}/${product}/`;

// ---------- one action driven through kills ----------

/** The step ids of an action, from the service's own plans. */
const planOf = (action: string) => plans[action as keyof typeof plans]!.steps.map((st) => st.id);

interface Boundary {
  /** the step whose checkpoint is held, or FINISH: the status change at the end */
  step: string;
  /** true: the kill lands after the checkpoint is in; false: after the step's work, before its checkpoint */
  recorded: boolean;
  /** where the release must be while the worker is dead there */
  expect: Partial<Record<Stage, 'all' | 'none'>>;
}

/**
 * Sets RepoAction and drives the action through its boundaries: at each, the worker that reached it is
 * killed with SIGKILL, and while no live worker is on the ticket the repositories, the database and the
 * checkpoints are checked. Spare workers are running all along; the test keeps them off the ticket with
 * the ticket's own advisory lock (services/db/locks.ts), which it queues for before each kill, so it gets it
 * first when the dead worker's session ends, and holds while it checks. A spare then finishes the action.
 */
async function crashThrough(opts: {
  ticket: number;
  who: ReturnType<typeof rtClient>;
  action: string;
  source: Stage;
  target: Stage;
  product: string;
  pkgs: Indexed[];
  boundaries: Boundary[];
  bystander?: { stage: Stage; pkgs: Indexed[] };
}): Promise<{ inboxId: number; killed: string[] }> {
  const { ticket, product, pkgs, source, target } = opts;
  const plan = planOf(opts.action);
  for (const b of opts.boundaries) expect([...plan, FINISH], `${opts.action} has a step ${b.step}`).toContain(b.step);
  expect(opts.boundaries[0]?.step, 'the first stop is a step (the release row is written when the action starts)').not.toBe(FINISH);
  ensureWorkers();
  const killed: string[] = [];
  const holds = new Set<Hold>();
  const track = (h: Hold) => {
    holds.add(h);
    return h;
  };
  const drop = async (h: Hold) => {
    holds.delete(h);
    await h.release();
  };
  try {
    // the first stop needs the inbox id: the ticket's lock keeps the workers waiting until it is held
    let door = { hold: track(await Hold.advisory(lockKeys.ticket(ticket))), granted: Promise.resolve() };
    const inbox = await setAction(ticket, opts.who, opts.action);
    const holdAt = (b: Boundary) => (b.step === FINISH ? Hold.releaseRow(ticket) : Hold.checkpoint(inbox.id, b.step));
    let hold = track(await holdAt(opts.boundaries[0]!));
    await drop(door.hold);

    for (const [i, b] of opts.boundaries.entries()) {
      const where = `${opts.action}, killed at ${b.step} (${b.recorded ? 'after its checkpoint' : 'before its checkpoint'})`;
      const waiting = await hold.waitBlocked(b.step === FINISH ? /update "releases"/i : /insert into "checkpoints"/i);
      trace(`${where}: worker ${waiting[0]!.app} waits there`);
      door = await Hold.advisoryQueued(lockKeys.ticket(ticket));
      track(door.hold);
      const victim = waiting[0]!.app;
      await killWorker(victim);
      killed.push(victim);
      ensureWorkers();
      await door.granted;
      const pids = waiting.map((w) => w.pid);
      if (b.recorded) {
        await drop(hold); // the dead worker's insert goes through: its checkpoint appears after the kill
        await hold.gone(pids);
      } else {
        await hold.terminate(pids);
        await drop(hold);
      }

      // --- no live worker on the ticket ---
      // every step before this one ran (again, if need be) and was recorded; this one only when aimed so
      const at = b.step === FINISH ? plan.length : plan.indexOf(b.step);
      const done = plan.slice(0, at + (b.recorded && b.step !== FINISH ? 1 : 0));
      const steps = await e.svc.db('checkpoints').where({ inbox_id: inbox.id }).select('step', 'output');
      expect(steps.map((x) => x.step).sort(), `${where}: checkpoints`).toEqual([...done].sort());
      expect(
        steps.every((x) => x.output !== 'held by test'),
        `${where}: checkpoints are the worker's`,
      ).toBe(true);
      const rel = await e.svc.db('releases').where({ ticket_id: ticket }).first();
      expect(rel, where).toMatchObject({ status: 'Processing', active_inbox_id: inbox.id });
      const tr = await e.svc.db('transitions').where({ inbox_id: inbox.id });
      expect(
        tr.map((r) => r.outcome),
        `${where}: one running transition`,
      ).toEqual(['running']);

      const h = await holdings(product, pkgs);
      for (const s of STAGES) expect(['all', 'none'], `${where}: ${s} holds all or none of the release (${h[s]})`).toContain(h[s]);
      expect([h[source], h[target]], `${where}: the release is wholly in ${source} or ${target}`).toContain('all');
      expect(h, `${where}: the kill landed where it was aimed`).toMatchObject(b.expect);
      if (opts.bystander) {
        const bh = await holdings(product, opts.bystander.pkgs);
        expect(bh, `${where}: the other release of the product is untouched`).toEqual(
          Object.fromEntries(STAGES.map((s) => [s, s === opts.bystander!.stage ? 'all' : 'none'])),
        );
      }

      const next = opts.boundaries[i + 1];
      if (next) hold = track(await holdAt(next));
      await drop(door.hold); // a spare may take the job over now
      trace(`${where}: checked`);
    }
    return { inboxId: inbox.id, killed };
  } finally {
    for (const h of holds) await h.release();
  }
}

/** The service's comments on the ticket that match, for "exactly one" checks (each carries its op marker). */
const commentsMatching = async (ticket: number, re: RegExp) => (await comments(e, ticket)).filter((c) => re.test(c));

describe('promotion under SIGKILL and concurrency', () => {
  it('a worker killed at each step boundary leaves every index with all or none of the release; the rerun finishes once', async () => {
    const product = `TESTTP.crash.${e.run}`;
    const t = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')] }), 'promotion crash');
    // another release of the same product stays in Unverified all along: no rebuild may drop it
    const other = await openTicket(
      e,
      releaseXml({ product, version: ['1', '0', '1'], packages: [rpmSpec(e, 'testpkg-broken')] }),
      'promotion crash bystander',
    );
    ensureWorkers();
    // one after the other: two releases of one product entering a stage at once can drop each other from its
    // index (the cause of the last test's failure)
    expect(await act(other, e.prov, 'MoveToUnverified')).toBe('Unverified');
    expect(await act(t, e.prov, 'MoveToUnverified')).toBe('Unverified');

    const pkgs = await recordedPackages(t);
    const bystander = { stage: 'unverified' as const, pkgs: await recordedPackages(other) };
    expect(pkgs.map((p) => p.filename)).toEqual([e.pkgs.rpm('testpkg').filename, e.pkgs.rpm('testpkg-dep').filename]);
    expect(await holdings(product, pkgs)).toEqual({ unverified: 'all', 'stage-rollout': 'none', production: 'none' });
    expect(await holdings(product, bystander.pkgs)).toEqual({ unverified: 'all', 'stage-rollout': 'none', production: 'none' });

    // --- MoveToStageRollOut by the technology unit: Unverified -> Stage-Rollout ---
    const inSource = { unverified: 'all', 'stage-rollout': 'none', production: 'none' } as const;
    const inBoth = { unverified: 'all', 'stage-rollout': 'all', production: 'none' } as const;
    const inTarget = { unverified: 'none', 'stage-rollout': 'all', production: 'none' } as const;
    const stageBoundaries: Boundary[] = [
      { step: 'load-release', recorded: true, expect: inSource },
      { step: 'check-conflicts-stage-rollout', recorded: false, expect: inSource },
      { step: 'check-dependencies-stage-rollout', recorded: true, expect: inSource },
      { step: 'promote-stage-rollout', recorded: false, expect: inBoth },
      { step: 'withdraw-from-source', recorded: true, expect: inTarget },
      { step: FINISH, recorded: false, expect: inTarget },
    ];
    expect(
      stageBoundaries.map((b) => b.step),
      'a kill at every step of the plan',
    ).toEqual([...planOf('MoveToStageRollOut'), FINISH]);
    const stage = await crashThrough({
      ticket: t,
      who: rtClient('tug1'),
      action: 'MoveToStageRollOut',
      source: 'unverified',
      target: 'stage-rollout',
      product,
      pkgs,
      bystander,
      boundaries: stageBoundaries,
    });
    expect(await settled(t, stage.inboxId)).toBe('StageRollOut');

    // --- MoveToProduction by the rollout coordinator: Stage-Rollout -> Production, revision v1 ---
    const pSource = { unverified: 'none', 'stage-rollout': 'all', production: 'none' } as const;
    const pBoth = { unverified: 'none', 'stage-rollout': 'all', production: 'all' } as const;
    const pTarget = { unverified: 'none', 'stage-rollout': 'none', production: 'all' } as const;
    const prodBoundaries: Boundary[] = [
      { step: 'load-release', recorded: true, expect: pSource },
      { step: 'check-conflicts-production', recorded: true, expect: pSource },
      { step: 'check-dependencies-production', recorded: true, expect: pSource },
      { step: 'allocate-revision', recorded: true, expect: pSource },
      { step: 'promote-production', recorded: true, expect: pBoth },
      { step: 'withdraw-from-source', recorded: false, expect: pTarget },
      { step: 'evidence', recorded: true, expect: pTarget },
      { step: FINISH, recorded: false, expect: pTarget },
    ];
    expect(
      prodBoundaries.map((b) => b.step),
      'a kill at every step of the plan',
    ).toEqual([...planOf('MoveToProduction'), FINISH]);
    const prod = await crashThrough({
      ticket: t,
      who: rtClient('rollout1'),
      action: 'MoveToProduction',
      source: 'stage-rollout',
      target: 'production',
      product,
      pkgs,
      bystander,
      boundaries: prodBoundaries,
    });
    expect(await settled(t, prod.inboxId)).toBe('Production');
    expect(new Set([...stage.killed, ...prod.killed]).size, 'each kill took down another process').toBe(
      stageBoundaries.length + prodBoundaries.length,
    );

    // --- the end state is the one of an uninterrupted run ---
    expect(await holdings(product, pkgs)).toEqual(pTarget);
    expect(await holdings(product, bystander.pkgs)).toEqual(inSource);
    const [inProd, inStage, inUnverified] = await Promise.all([
      checkYumRepo(repoUrl('production', product), 'testpkg-dep', { RESOLVE: '1' }),
      checkYumRepo(repoUrl('stage-rollout', product), 'testpkg'),
      checkYumRepo(repoUrl('unverified', product), 'testpkg'),
    ]);
    trace('dnf checked the three repositories');
    expect(inProd.code, `dnf gets it from Production: ${inProd.output}`).toBe(0);
    expect(inStage.code, 'not in Stage-Rollout any more').toBe(4);
    expect(inUnverified.code, 'not in Unverified any more').toBe(4);
    const tk = await e.rt.getTicket(t);
    expect(tk.customFields.RepoStatus).toEqual(['Production']);
    expect(tk.customFields.RepoURI).toEqual([repoUrl('production', product)]);

    // a Processing may go out together with its final status when the outbox is behind (finalStatuses)
    expect(await finalStatuses(e, t)).toEqual(['Unverified', 'StageRollOut', 'Production']);
    const all = await comments(e, t);
    expect(all, all.join('\n---\n')).toHaveLength(3);
    expect(await commentsMatching(t, /is in the Stage-Rollout repository/)).toHaveLength(1);
    const prodComments = await commentsMatching(t, /is in Production as revision v\d+/);
    expect(prodComments).toHaveLength(1);
    expect(prodComments[0]).toMatch(/is in Production as revision v1\b/);

    const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
    expect(tr.map((r) => [r.action, r.actor, r.from_status, r.to_status, r.outcome])).toEqual([
      ['MoveToUnverified', 'provider1', 'New', 'Unverified', 'ok'],
      ['MoveToStageRollOut', 'tug1', 'Unverified', 'StageRollOut', 'ok'],
      ['MoveToProduction', 'rollout1', 'StageRollOut', 'Production', 'ok'],
    ]);
    for (const r of tr) expect(new Date(r.finished_at).getTime()).toBeGreaterThanOrEqual(new Date(r.started_at).getTime());
    expect(tr[1].inbox_id).toBe(stage.inboxId);
    expect(tr[2].inbox_id).toBe(prod.inboxId);
    expect((await e.svc.db('inbox').where({ ticket_id: t }).orderBy('id')).map((r) => r.state)).toEqual(['done', 'done', 'done']);
    expect(await e.svc.db('releases').where({ ticket_id: t }).first()).toMatchObject({
      status: 'Production',
      revision: 1,
      active_inbox_id: null,
    });
    expect(await e.svc.db('product_revisions').where({ product_short_name: product }).first()).toMatchObject({ last: 1 });
    expect(await filesUnder(path.join(e.svc.storage, 'tmp'))).toEqual([]);
  }, 240_000);

  it('a worker killed after the revision counter moved but before its checkpoint still publishes v1', async () => {
    const product = `TESTTP.revkill.${e.run}`;
    const t = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] }), 'revision kill');
    ensureWorkers();
    expect(await act(t, e.prov, 'MoveToUnverified')).toBe('Unverified');
    expect(await act(t, rtClient('tug1'), 'MoveToStageRollOut')).toBe('StageRollOut');

    const prod = await crashThrough({
      ticket: t,
      who: rtClient('rollout1'),
      action: 'MoveToProduction',
      source: 'stage-rollout',
      target: 'production',
      product,
      pkgs: await recordedPackages(t),
      boundaries: [{ step: 'allocate-revision', recorded: false, expect: { 'stage-rollout': 'all', production: 'none' } }],
    });
    expect(await settled(t, prod.inboxId)).toBe('Production');
    const rel = await e.svc.db('releases').where({ ticket_id: t }).first();
    const counter = await e.svc.db('product_revisions').where({ product_short_name: product }).first();
    const said = await commentsMatching(t, /is in Production as revision v\d+/);
    expect(
      { revision: rel.revision, counter: counter.last, comments: said.map((c) => /revision (v\d+)/.exec(c)?.[1]) },
      'the first release of a product is v1, and the counter moved once',
    ).toEqual({ revision: 1, counter: 1, comments: ['v1'] });
  }, 120_000);

  it('two actions on one ticket run one after the other in RT order; another ticket is not held up', async () => {
    const product = `TESTTP.serial.${e.run}`;
    const otherProduct = `TESTTP.serial-other.${e.run}`;
    const a = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')] }), 'serial a');
    const c = await openTicket(e, releaseXml({ product: otherProduct, packages: [rpmSpec(e, 'testpkg')] }), 'serial c');
    ensureWorkers(); // several worker processes, each taking several jobs at once (WORKER_CONCURRENCY 4)
    expect(workers.size).toBeGreaterThanOrEqual(2);
    const [ua, uc] = [await setAction(a, e.prov, 'MoveToUnverified'), await setAction(c, e.prov, 'MoveToUnverified')];
    expect(await settled(a, ua.id)).toBe('Unverified');
    expect(await settled(c, uc.id)).toBe('Unverified');
    const pkgsA = await recordedPackages(a);
    const pkgsC = await recordedPackages(c);

    // ticket a's first action will stop inside its promotion (the repository lock), holding a's ticket lock
    const repoHold = await Hold.advisory(lockKeys.repo('stage-rollout', product));
    try {
      const tug = rtClient('tug1');
      await tug.setCustomFields(a, { RepoAction: 'MoveToStageRollOut' });
      await tug.setCustomFields(a, { RepoAction: 'Reject' });
      await repoHold.waitBlocked(/pg_advisory_lock/);
      // the second action's job is taken by another worker slot: it must wait for a's ticket lock, and
      // neither start the Reject nor run a's first action a second time meanwhile
      const seen = await until(
        'the second job of a to be taken up',
        async () => {
          const lockWaiters = (
            await e.svc.db.raw(
              `SELECT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND NOT l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(?, 0)`,
              [lockKeys.ticket(a)],
            )
          ).rows.map((r: { app: string }) => r.app);
          const inRepoLock = (await repoHold.waiters()).length;
          const rejectStarted = Boolean(await e.svc.db('transitions').where({ ticket_id: a, action: 'Reject' }).first());
          return lockWaiters.length || inRepoLock > 1 || rejectStarted ? { lockWaiters, inRepoLock, rejectStarted } : null;
        },
        30_000,
      );
      expect(seen, 'the second job waits for the ticket lock, and nothing else of a runs').toMatchObject({
        inRepoLock: 1,
        rejectStarted: false,
      });
      expect(seen.lockWaiters).toHaveLength(1);
      expect(workers.has(seen.lockWaiters[0]!)).toBe(true);
      // meanwhile ticket c (another product) goes all the way
      await tug.setCustomFields(c, { RepoAction: 'MoveToStageRollOut' });
      await until('ticket c to reach StageRollOut', async () =>
        e.svc.db('transitions').where({ ticket_id: c, action: 'MoveToStageRollOut', outcome: 'ok' }).first(),
      );
      await sleep(1_000); // room for a wrongly started second action to show up
      const running = await e.svc.db('transitions').where({ ticket_id: a }).whereNot({ action: 'MoveToUnverified' });
      expect(
        running.map((r) => [r.action, r.outcome]),
        'while the first action runs, the second has not started',
      ).toEqual([['MoveToStageRollOut', 'running']]);
      expect((await e.svc.db('inbox').where({ ticket_id: a }).orderBy('id')).map((r) => r.state)).toEqual(['done', 'pending', 'pending']);
    } finally {
      await repoHold.release();
    }
    await until(
      'both actions of a to be handled',
      async () => (await e.svc.db('inbox').where({ ticket_id: a, state: 'pending' })).length === 0,
      90_000,
      200,
    );
    await outboxDrained(a);
    await outboxDrained(c);
    expect(await repoStatus(e, a)).toBe('Rejected');
    expect(await repoStatus(e, c)).toBe('StageRollOut');

    const tr = await e.svc.db('transitions').where({ ticket_id: a }).whereNot({ action: 'MoveToUnverified' }).orderBy('started_at');
    expect(tr.map((r) => [r.action, r.from_status, r.to_status, r.outcome])).toEqual([
      ['MoveToStageRollOut', 'Unverified', 'StageRollOut', 'ok'],
      ['Reject', 'StageRollOut', 'Rejected', 'ok'],
    ]);
    type Row = { started_at: Date; finished_at: Date };
    const [first, second] = tr as [Row, Row];
    const ms = (d: unknown) => new Date(d as Date).getTime();
    expect(ms(second.started_at), 'the second action started after the first had finished').toBeGreaterThanOrEqual(ms(first.finished_at));
    // in RT's order: the transactions of the two RepoAction changes, oldest first
    const actionField = await e.rt.customFieldId('RepoAction');
    const rtOrder = (await e.rt.getCustomFieldTransactions(a))
      .filter((h) => h.field === actionField && h.creator === 'tug1')
      .map((h) => [h.id, h.newValue]);
    expect(rtOrder.map(([, v]) => v)).toEqual(['MoveToStageRollOut', 'Reject']);
    expect(tr.map((r) => [Number(r.transaction_id), r.action])).toEqual(rtOrder);

    // the other ticket ran wholly inside a's first action: different tickets do not wait for each other
    const [tc] = await e.svc.db('transitions').where({ ticket_id: c, action: 'MoveToStageRollOut' });
    expect(ms(tc.started_at)).toBeGreaterThan(ms(first.started_at));
    expect(ms(tc.finished_at)).toBeLessThan(ms(first.finished_at));

    // the end state the order implies: rejected, in no repository index; c in Stage-Rollout
    expect(await holdings(product, pkgsA)).toEqual({ unverified: 'none', 'stage-rollout': 'none', production: 'none' });
    expect(await holdings(otherProduct, pkgsC)).toEqual({ unverified: 'none', 'stage-rollout': 'all', production: 'none' });
    expect((await e.rt.getTicket(a)).customFields.RepoURI).toEqual([]);
    expect(await commentsMatching(a, /is in the Stage-Rollout repository/)).toHaveLength(1);
    expect(await commentsMatching(a, /was rejected and withdrawn from/)).toHaveLength(1);
  }, 180_000);

  it('another release of the product entering Unverified while a promotion is in flight leaves the promoted release in place', async () => {
    const product = `TESTTP.sibling.${e.run}`;
    const x = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')] }), 'sibling x');
    const y = await openTicket(e, releaseXml({ product, version: ['1', '0', '1'], packages: [rpmSpec(e, 'testpkg-broken')] }), 'sibling y');
    ensureWorkers();
    expect(await act(x, e.prov, 'MoveToUnverified')).toBe('Unverified');
    const pkgsX = await recordedPackages(x);
    // x's promotion stops after its first step: it is Processing, and only in Unverified ...
    const door = await Hold.advisory(lockKeys.ticket(x));
    let hold: Hold | undefined;
    let ix: { id: number };
    try {
      ix = await setAction(x, rtClient('tug1'), 'MoveToStageRollOut');
      hold = await Hold.checkpoint(ix.id, 'load-release');
      await door.release();
      await hold.waitBlocked(/insert into "checkpoints"/i);
      // ... while y, another ticket of the product, goes to Unverified (not held up by x: another ticket)
      expect(await act(y, e.prov, 'MoveToUnverified')).toBe('Unverified');
      const h = await holdings(product, pkgsX);
      expect(
        [h.unverified, h['stage-rollout']],
        `x is wholly in Unverified or Stage-Rollout while it moves (${JSON.stringify(h)})`,
      ).toContain('all');
    } finally {
      await door.release();
      await hold?.release();
    }
    expect(await settled(x, ix.id)).toBe('StageRollOut');
    expect(await holdings(product, pkgsX)).toEqual({ unverified: 'none', 'stage-rollout': 'all', production: 'none' });
    expect(await holdings(product, await recordedPackages(y))).toEqual({ unverified: 'all', 'stage-rollout': 'none', production: 'none' });
  }, 120_000);
});
