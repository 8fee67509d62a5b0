/**
 * kill -9 under load: many tickets walk through different RepoAction sequences while worker processes
 * (jobs, outbox, relay) are SIGKILLed at random points and restarted. Afterwards every
 * ticket must be exactly where its sequence leads: in RT, in the database and in the repository
 * indexes; every action took effect once, every comment was posted once, no blob is missing or
 * orphaned, no scratch is left.
 * With `scaleOut`, two worker machines: each worker has its own STORAGE_DIR (machine A's, machine B's; a
 * killed worker's machine starts again with its disk), and they share PostgreSQL, Redis and one object store
 * (a real OpenStack Swift) that holds the blobs and the published repositories, which the API serves.
 * Short by default (~40 actions, 10 tickets, >= 5 kills); FAULTS_SCALE=n gives 10n tickets and
 * >= 4n kills (n=5: ~200 actions over 50 tickets, >= 20 kills; npm run test:chaos).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestKey } from './signing-keys.ts';
import { objectStoreOf } from '../../services/storage/objects/open.ts';
import { checkDrift } from '../../services/drift/check.ts';
import { startPrivateSwift, type PrivateSwift } from './mirror-servers.ts';
import {
  debSpec,
  filesUnder,
  openTicket,
  opMarkers,
  repoStatus,
  rpmSpec,
  finalStatuses,
  useE2E,
  type E2E,
  STEP,
  type Step,
  type Who,
} from './e2e.ts';
import { buildTestPackages, type TestPackages } from './packages.ts';
import { checkAptRepo, checkYumRepo } from './repo-clients.ts';
import { releaseXml, type XmlPackage } from './release-xml.ts';
import { rtClient } from './rt.ts';
import type { RtClient } from '../../services/helpdesk/rt-client.ts';

export interface Kill9Options {
  /** two worker machines sharing an object store (see above) */
  scaleOut?: boolean;
}

const scale = Math.max(1, Number(process.env.FAULTS_SCALE ?? 1));
const TICKETS = 10 * scale;
const MIN_KILLS = Math.max(5, 4 * scale);
/** How long one action may take to show in RT, kills (and, in the long run, a queue of 50 tickets) included. */
const STEP_MS = 180_000 * Math.min(scale, 3);

const root = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

const { U, S, P, R } = STEP;
const D = STEP.D('rollout1');
const DT = STEP.D('tug1');

/** Sequences whose end states differ; ~4 actions on average. */
const SEQUENCES: Step[][] = [
  [U, S, P], // Production
  [U, S, R], // Rejected from Stage-Rollout
  [U, S, P, D], // Deprecated
  [U, R, U], // Unverified again after a Reject
  [U, S, P, DT, P], // restored to Production
  [U, R, U, S], // Stage-Rollout after a Reject
  [U, S, R, U, S, P], // Production after a Reject from Stage-Rollout
  [U, R, U, R, U], // Unverified, rejected twice
];

interface Ticket {
  id: number;
  product: string;
  kind: 'yum' | 'apt';
  files: string[];
  steps: Step[];
  /** the step being walked; steps.length once done */
  at: number;
  failed?: string;
}

export function kill9LoadSuite(opts: Kill9Options = {}): void {
  // The API runs here; the worker (jobs, outbox, relay) is a child process that gets SIGKILLed.
  const machines: string[] = [];
  let swift: PrivateSwift | undefined;
  let storeEnv: Record<string, string> = {};
  if (opts.scaleOut)
    beforeAll(async () => {
      swift = await startPrivateSwift();
      const dir = await mkdtemp(path.join(tmpdir(), 'rd-scale-out-'));
      const key = await makeTestKey(path.join(dir, 'keys'), 'desk');
      // every machine: the same store and the same signing key, as the README's deployment says
      storeEnv = { BLOB_STORE: swift.targetUrl('desk'), SIGNING_KEY_FILES: key.secret };
      for (const m of ['machine-a', 'machine-b']) machines.push(await mkdtemp(path.join(dir, `${m}-`)));
    }, 120_000);
  const e = useE2E(() => ({ WORKER_LOCK_MS: '1500', ...storeEnv }), 'api');
  afterAll(async () => {
    await swift?.stop();
    for (const m of machines) await rm(path.dirname(m), { recursive: true, force: true });
  });
  let v2: TestPackages;
  beforeAll(async () => {
    v2 = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs2-')), 3, { version: '2.0.0' });
    for (const p of [...v2.rpms, ...v2.debs])
      e.provider.file(`/v2/${p.filename.endsWith('.rpm') ? 'rpm' : 'deb'}/${p.filename}`, await readFile(p.path));
  }, 120_000);
  afterAll(async () => {
    if (v2) await rm(v2.dir, { recursive: true, force: true });
  });

  /** Two tickets per product (versions 1.0.0 and 2.0.0), so repositories are shared; every third product is APT. */
  function packagesOf(i: number): { kind: 'yum' | 'apt'; specs: XmlPackage[] } {
    const kind = Math.floor(i / 2) % 3 === 2 ? 'apt' : 'yum';
    const names = i % 4 < 2 ? ['testpkg'] : ['testpkg', 'testpkg-dep'];
    const v = i % 2 === 0 ? null : v2;
    const specs = names.map((n) => {
      if (!v) return kind === 'yum' ? rpmSpec(e, n) : debSpec(e, n);
      const p = kind === 'yum' ? v.rpm(n) : v.deb(n);
      const base = kind === 'yum' ? rpmSpec(e, n) : debSpec(e, n);
      return {
        ...base,
        filename: p.filename,
        version: '2.0.0',
        sha256: p.sha256,
        url: `${e.provider.url}/v2/${kind === 'yum' ? 'rpm' : 'deb'}/${p.filename}`,
      };
    });
    return { kind, specs };
  }

  /**
   * The package filenames a repository's live index lists (createrepo_c primary.xml or apt-ftparchive Packages),
   * read as sites read it: from the service (which serves the object store's copy when there is one).
   */
  async function indexed(stage: string, product: string, kind: 'yum' | 'apt'): Promise<string[]> {
    const read = async (f: string) => {
      const res = await fetch(`${e.svc.url}/repos/${stage}/${product}/${f}`);
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`${stage}/${product}/${f}: HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    };
    if (kind === 'apt') {
      const text = (await read('Packages'))?.toString('utf8') ?? '';
      return [...text.matchAll(/^Filename: (.+)$/gm)].map((m) => path.basename(m[1]!)).sort();
    }
    const repomd = (await read('repodata/repomd.xml'))?.toString('utf8');
    if (!repomd) return [];
    const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)?.[1];
    const primary = (await promisify(gunzip)((await read(href!))!)).toString('utf8');
    return [...primary.matchAll(/<location href="([^"]+)"/g)].map((m) => path.basename(m[1]!)).sort();
  }

  /**
   * The worker child, its log appended to one file; `ready` once it logged that it started. Scaled out, workers
   * take turns on the two machines: a killed worker's machine starts the next spare, with its disk as it was.
   */
  let turn = 0;
  function startWorker(log: NodeJS.WritableStream) {
    const machine = opts.scaleOut ? { STORAGE_DIR: machines[turn++ % machines.length]! } : {};
    const proc: ChildProcess = spawn(process.execPath, ['services/main.ts', '--role', 'worker'], {
      cwd: root,
      env: { ...process.env, ...e.svc.env, ...machine, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ready = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      proc.stdout!.on('data', (b: Buffer) => {
        log.write(b);
        if (b.includes('"worker started"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    proc.stderr!.on('data', (b: Buffer) => log.write(b));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return {
      proc,
      ready,
      kill: async () => {
        proc.kill('SIGKILL');
        await exited;
      },
    };
  }

  /** Where a kill landed: the newest checkpoint of each running action, else the outbox. */
  async function killPoint(e: E2E, tickets: number[]): Promise<string> {
    const running = await e.svc.db('transitions').whereIn('ticket_id', tickets).where({ outcome: 'running' }).select('inbox_id', 'action');
    if (running.length) {
      const steps = await Promise.all(
        running.map(async (r) => {
          const cp = await e.svc.db('checkpoints').where({ inbox_id: r.inbox_id }).orderBy('done_at', 'desc').first();
          return `${r.action}:${cp?.step ?? 'start'}`;
        }),
      );
      return steps.join(' ');
    }
    const pendingInbox = await e.svc.db('inbox').whereIn('ticket_id', tickets).where({ state: 'pending' }).count({ n: '*' });
    return Number(pendingInbox[0]!.n) ? 'verifying' : 'outbox';
  }

  const pendingWork = async (e: E2E, tickets: number[]) => {
    const [a] = await e.svc.db('inbox').whereIn('ticket_id', tickets).where({ state: 'pending' }).count({ n: '*' });
    const [b] = await e.svc.db('outbox').whereIn('ticket_id', tickets).whereNull('delivered_at').count({ n: '*' });
    return Number(a!.n) + Number(b!.n);
  };

  /** Counts what the workers got done: steps checkpointed, actions finished, write-backs delivered (~9 an action). */
  const UNITS_PER_ACTION = 9;
  async function progress(e: E2E, tickets: number[]): Promise<number> {
    const { rows } = await e.svc.db.raw(
      `
    SELECT (SELECT count(*) FROM checkpoints c JOIN inbox i ON i.id = c.inbox_id WHERE i.ticket_id = ANY(?))
         + (SELECT count(*) FROM transitions WHERE ticket_id = ANY(?) AND outcome <> 'running')
         + (SELECT count(*) FROM outbox WHERE ticket_id = ANY(?) AND delivered_at IS NOT NULL) AS n`,
      [tickets, tickets, tickets],
    );
    return Number(rows[0].n);
  }

  /**
   * Walks a ticket through its sequence: each action is set in RT by whoever may, once RT shows the status
   * the previous one leads to. The database says when to look, so RT (3 workers, shared with the service)
   * is asked about once per step rather than polled.
   */
  async function drive(t: Ticket, clients: Record<Who, RtClient>): Promise<void> {
    for (; t.at < t.steps.length; t.at++) {
      const s = t.steps[t.at]!;
      // a Reject or Deprecate carries its reason, written just before (the service quotes it)
      if (s.action === 'Reject' || s.action === 'Deprecate') await clients[s.who].comment(t.id, `reason ${t.id}.${t.at}`);
      await clients[s.who].setCustomFields(t.id, { RepoAction: s.action });
      const deadline = Date.now() + STEP_MS;
      for (;;) {
        await sleep(700);
        const db = (await e.svc.db('releases').where({ ticket_id: t.id }).first())?.status;
        const [queued] = await e.svc.db('outbox').where({ ticket_id: t.id }).whereNull('delivered_at').count({ n: '*' });
        if (db === s.want && Number(queued!.n) === 0 && (await repoStatus(e, t.id)) === s.want) break;
        if (db === 'Failed' || db === 'Incomplete' || Date.now() > deadline) {
          t.failed = `${s.action}: after ${Math.round((Date.now() - deadline + STEP_MS) / 1000)} s the database has ${db ?? '(no release)'}, RT ${(await repoStatus(e, t.id)) || '(unset)'}`;
          return;
        }
      }
    }
  }

  describe(opts.scaleOut ? 'two worker machines and one object store, kill -9 under load' : 'kill -9 of the worker under load', () => {
    it(
      `${TICKETS} tickets, mixed sequences, >= ${MIN_KILLS} kills: no action lost or doubled, every index exact`,
      async () => {
        const t0 = Date.now();
        const clients = { provider1: e.prov, tug1: rtClient('tug1'), rollout1: rtClient('rollout1') };
        const tickets: Ticket[] = await Promise.all(
          Array.from({ length: TICKETS }, async (_, i) => {
            const { kind, specs } = packagesOf(i);
            const product = `TESTTP.k9l${Math.floor(i / 2)}.${e.run}`;
            const xml = releaseXml({ product, packages: specs, ...(kind === 'apt' ? { protocol: 'apt' as const, arch: 'all' } : {}) });
            const id = await openTicket(e, xml, `kill9 load ${i}`);
            return { id, product, kind, files: specs.map((s) => s.filename), steps: SEQUENCES[i % SEQUENCES.length]!, at: 0 };
          }),
        );
        const ids = tickets.map((t) => t.id);
        const actions = tickets.reduce((n, t) => n + t.steps.length, 0);
        const logDir = await mkdtemp(path.join(tmpdir(), 'rd-kill9-load-'));
        const logFile = path.join(logDir, 'worker.log');
        const log = createWriteStream(logFile, { flags: 'a' });
        console.log(`kill9-load: ${actions} actions over ${TICKETS} tickets; worker log ${logFile}`);

        let worker = startWorker(log);
        let spare = startWorker(log);
        let kills = 0;
        const landed: string[] = [];
        let driving = true;
        // Two worker processes run, as under a supervisor that keeps a spare: the older one is SIGKILLed after a
        // random amount of work (paced by work, not time, so a fast machine sees as many kills as a slow one:
        // ~3 x MIN_KILLS) and a new one is started at once. The time node takes to boot is not what this test is
        // about, and two workers side by side (jobs, outbox and relay loops) are a fault of their own.
        const gap = Math.max(2, Math.floor((UNITS_PER_ACTION * actions) / (3 * MIN_KILLS)));
        const killer = (async () => {
          while (driving) {
            await Promise.all([worker.ready, spare.ready]);
            const target = (await progress(e, ids)) + rand(1, 2 * gap);
            while (driving && (await progress(e, ids)) < target) await sleep(50);
            await sleep(rand(0, 300));
            if (!driving) break;
            if (!(await pendingWork(e, ids))) continue; // nothing in flight: a kill would test nothing
            landed.push(await killPoint(e, ids));
            await worker.kill();
            kills++;
            worker = spare;
            spare = startWorker(log);
          }
        })();

        try {
          await Promise.all(tickets.map((t) => drive(t, clients)));
          driving = false;
          await killer;
          // the last workers live: let them drain the outbox and sweep scratch
          const deadline = Date.now() + 90_000;
          while (
            Date.now() < deadline &&
            ((await pendingWork(e, ids)) > 0 || (await filesUnder(path.join(e.svc.storage, 'tmp'))).length > 0)
          )
            await sleep(500);
        } finally {
          driving = false;
          await killer.catch(() => undefined);
          await worker.kill();
          await spare.kill();
          log.end();
        }
        const seconds = ((Date.now() - t0) / 1000).toFixed(1);
        const where = landed.reduce<Record<string, number>>((m, p) => {
          for (const x of p.split(' ')) m[x] = (m[x] ?? 0) + 1;
          return m;
        }, {});
        console.log(
          `kill9-load: ${kills} kills in ${seconds} s (${actions} actions, ${TICKETS} tickets); kills landed in: ${JSON.stringify(where)}`,
        );

        expect(tickets.filter((t) => t.failed).map((t) => `${t.id}: ${t.failed}`)).toEqual([]);
        expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
        for (const t of tickets) await expectTicket(t);
        await expectIndexes(tickets);
        await expectNoDrift();
        await expectStorage(tickets);
        expect((await fetch(`${e.svc.url}/healthz`)).status).toBe(200);
        await rm(logDir, { recursive: true, force: true }); // kept when something failed
      },
      900_000 * scale,
    );
  });

  /** The ticket in RT, in the database and in its write-backs is exactly what its sequence leads to. */
  async function expectTicket(t: Ticket) {
    const final = t.steps.at(-1)!.want;
    const label = `ticket ${t.id} (${t.steps.map((s) => s.action).join(' > ')})`;
    expect(await repoStatus(e, t.id), label).toBe(final);
    expect((await e.svc.db('releases').where({ ticket_id: t.id }).first())?.status, label).toBe(final);
    // each RT change arrived once and took effect once, in order
    const inbox = await e.svc.db('inbox').where({ ticket_id: t.id }).orderBy('transaction_id');
    expect(
      inbox.map((r) => [r.action, r.state]),
      label,
    ).toEqual(t.steps.map((s) => [s.action, 'done']));
    const tr = await e.svc.db('transitions').where({ ticket_id: t.id }).orderBy('id');
    expect(
      tr.map((r) => [r.action, r.outcome, r.to_status]),
      label,
    ).toEqual(t.steps.map((s) => [s.action, 'ok', s.want]));
    expect(
      tr.map((r) => Number(r.inbox_id)),
      label,
    ).toEqual(inbox.map((r) => Number(r.id)));
    // RT saw each status once, in order; each comment once
    expect(await finalStatuses(e, t.id), label).toEqual(t.steps.map((s) => s.want));
    // each comment once; a transient failure on the way adds its one notice
    const said = await opMarkers(e, t.id);
    expect(
      said.filter((m) => !m.endsWith(':retrying')),
      label,
    ).toEqual(inbox.map((r) => `inbox-${r.id}:ok:comment`));
    expect(new Set(said).size, label).toBe(said.length);
    const undelivered = await e.svc.db('outbox').where({ ticket_id: t.id }).whereNull('delivered_at').count({ n: '*' });
    expect(Number(undelivered[0]!.n), label).toBe(0);
  }

  /** Every stage of every product lists exactly the packages of its releases in that stage's status. */
  async function expectIndexes(tickets: Ticket[]) {
    const STAGE_STATUS = { unverified: 'Unverified', 'stage-rollout': 'StageRollOut', production: 'Production' } as const;
    const samples: Array<{ url: string; kind: 'yum' | 'apt'; pkg: string }> = [];
    for (const product of new Set(tickets.map((t) => t.product))) {
      const mine = tickets.filter((t) => t.product === product);
      for (const [stage, status] of Object.entries(STAGE_STATUS)) {
        const want = mine
          .filter((t) => t.steps.at(-1)!.want === status)
          .flatMap((t) => t.files)
          .sort();
        expect(await indexed(stage, product, mine[0]!.kind), `${stage}/${product}`).toEqual(want);
        if (want.length && !samples.some((s) => s.kind === mine[0]!.kind)) {
          samples.push({
            url: `${e.svc.url}/repos/${stage}/${product}/`,
            kind: mine[0]!.kind,
            pkg: want.includes('testpkg-dep') ? 'testpkg-dep' : 'testpkg',
          });
        }
      }
    }
    // a sample read by the real clients
    for (const s of samples) {
      const r = s.kind === 'yum' ? await checkYumRepo(s.url, s.pkg) : await checkAptRepo(s.url, s.pkg);
      expect(r.ok, `${s.kind} ${s.url}: ${r.output}`).toBe(true);
    }
  }

  /**
   * Every live repository, product and distribution, against the records, as the drift check compares them: no
   * index lacks or adds a package, every file an index names is there with its size (scaled out: in the store).
   */
  async function expectNoDrift() {
    const report = await checkDrift({ db: e.svc.db, config: { STORAGE_DIR: e.svc.storage, MIRROR_TARGETS: [] } });
    expect(report.skipped, 'drift check skipped').toEqual(['tickets: no helpdesk connection here']);
    expect(report.items, 'drift').toEqual([]);
    expect(report.checked.repositories).toBeGreaterThan(0);
  }

  /** No blob missing, none orphaned, no scratch left (scaled out: in the store, and on each machine). */
  async function expectStorage(tickets: Ticket[]) {
    const releaseIds = await e.svc
      .db('releases')
      .whereIn(
        'ticket_id',
        tickets.map((t) => t.id),
      )
      .pluck('id');
    const referenced = new Set<string>(await e.svc.db('packages').whereIn('release_id', releaseIds).pluck('sha256'));
    if (opts.scaleOut) {
      const stored = new Set((await objectStoreOf(e.svc.storage)!.list('blobs/')).map((o) => path.basename(o.key)));
      for (const sha of referenced) expect(stored.has(sha), `blob ${sha} in the store`).toBe(true);
      for (const m of machines) {
        const local = (await filesUnder(path.join(m, 'blobs'))).map((f) => path.basename(f));
        expect(
          local.filter((b) => !referenced.has(b)),
          `orphaned blobs on ${path.basename(m)}`,
        ).toEqual([]);
        expect(await filesUnder(path.join(m, 'tmp')), `scratch left on ${path.basename(m)}`).toEqual([]);
      }
      return;
    }
    for (const sha of referenced)
      expect(
        await stat(path.join(e.svc.storage, 'blobs', sha.slice(0, 2), sha)).then(
          () => true,
          () => false,
        ),
        `blob ${sha}`,
      ).toBe(true);
    const files = (await filesUnder(path.join(e.svc.storage, 'blobs'))).map((f) => path.basename(f));
    expect(
      files.filter((b) => !referenced.has(b)),
      'orphaned blobs',
    ).toEqual([]);
    expect(await filesUnder(path.join(e.svc.storage, 'tmp')), 'scratch left').toEqual([]);
    const builds = (await filesUnder(path.join(e.svc.storage, 'repos', '.versions'))).filter((f) => f.includes('/.build-'));
    if (builds.length) console.log(`kill9-load: ${builds.length} files of abandoned index builds (pruned after an hour by design)`);
  }
}
