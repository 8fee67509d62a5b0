/**
 * Runs the hostile-input corpus (cases.ts) against the real service: RT, PostgreSQL, Redis, createrepo_c.
 * All cases start at once (beforeAll); each `it` awaits its own case and reports it under its name. Every case
 * checks what the user sees (ticket comment or HTTP answer), that nothing was published or left half-done,
 * that nothing was written outside STORAGE_DIR (the canary directory stays empty), and GET /healthz.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadAttachment } from '../../services/helpdesk/rt-attachments.ts';
import { RtClient } from '../../services/helpdesk/rt-client.ts';
import { collect } from '../../services/helpdesk/rt-pages.ts';
import { filesUnder, useE2E } from '../support/e2e.ts';
import { buildTestPackages } from '../support/packages.ts';
import { finalAttemptNow } from '../support/retries.ts';
import { RT_QUEUE, RT_URL, rtTokens, type RtUserName } from '../support/rt.ts';
import { cases, isTicketCase, type Case, type HttpCase, type TicketCase } from './cases.ts';
import { openTicket, until, type World } from './inputs.ts';

const e = useE2E({
  MAX_BUNDLE_ENTRIES: '1000',
  MAX_BUNDLE_BYTES: String(32 * 2 ** 20),
  DOWNLOAD_TIMEOUT_MS: '2000',
  WORKER_CONCURRENCY: '6',
});

const STAGES = ['unverified', 'stage-rollout', 'production'];
/** File names escape attempts use: none may appear where a bundle could have put it. */
const MARKERS = ['escape.rpm', 'absolute.rpm', 'hardlink-target'];
/** Fake ticket / transaction ids no earlier run used (the test database outlives runs). */
const UNIQUE_BASE = 1_000_000_000 + (Date.now() % 1_000_000) * 1000;

let canary: string;
let pkgs210: string;
let v210: World['v210'];
const outcomes = new Map<Case, Promise<unknown>>();
const world = (i: number): World => ({
  e,
  product: `TESTTP.h${i}.${e.run}`,
  canary,
  slug: `h${i}-${e.run}`,
  unique: UNIQUE_BASE + i,
  v210,
  rt,
});

/** RT is three Perl workers on SQLite, on a shared machine: the service must get its share while tickets are opened. */
const rtSlot = limiter(2);
const clients = new Map<string, RtClient>();
/** Test-side RT clients wait longer than the service's (20 s): the corpus itself keeps RT busy. */
function rt(user: RtUserName, queue = RT_QUEUE): RtClient {
  const key = `${user}/${queue}`;
  if (!clients.has(key)) clients.set(key, new RtClient({ baseUrl: RT_URL, token: rtTokens()[user], queue, timeoutMs: 90_000 }));
  return clients.get(key)!;
}

beforeAll(async () => {
  canary = await mkdtemp(path.join(tmpdir(), 'rd-canary-'));
  pkgs210 = await mkdtemp(path.join(tmpdir(), 'rd-pkgs210-'));
  const built = await buildTestPackages(pkgs210, 3, { version: '2.10' });
  const p = built.rpm('testpkg');
  e.provider.file(`/v210/${p.filename}`, await readFile(p.path));
  v210 = { filename: p.filename, sha256: p.sha256 };
  // inputs first (bombs are CPU work in this process, which also serves the downloads), then every case at once
  const inputs = new Map(
    await Promise.all(cases.filter(isTicketCase).map(async (c) => [c, await c.xml(world(cases.indexOf(c)))] as const)),
  );
  // the slowest first: transient failures take two job attempts, each with its download retries
  const flag = (c: Case, f: 'transient' | 'alone') => isTicketCase(c) && c[f] === true;
  const order = cases.filter((c) => !flag(c, 'alone')).sort((a, b) => Number(flag(b, 'transient')) - Number(flag(a, 'transient')));
  const opened: Promise<unknown>[] = [];
  const start = (c: Case) => {
    const i = cases.indexOf(c);
    let run: Promise<void>;
    if (isTicketCase(c)) {
      const ticket = openCaseTicket(c, world(i), inputs.get(c)!);
      opened.push(ticket.catch(() => undefined));
      run = ticket.then((t) => checkTicketCase(c, world(i), t));
    } else run = runHttpCase(c, world(i));
    const outcome = run.then(
      () => undefined,
      (err: unknown) => err ?? new Error('rejected'),
    );
    outcomes.set(c, outcome);
    return outcome;
  };
  order.forEach(start);
  // once the other tickets exist, so that the huge upload does not hold up every other case
  const othersOpened = Promise.all(opened);
  for (const c of cases.filter((x) => flag(x, 'alone')))
    outcomes.set(
      c,
      othersOpened.then(() => start(c)),
    );
}, 300_000);

afterAll(async () => {
  for (const dir of [canary, pkgs210]) if (dir) await rm(dir, { recursive: true, force: true });
});

for (const kind of ['xml', 'bundle', 'url', 'webhook', 'actor'] as const) {
  describe(kind, () => {
    for (const c of cases.filter((x) => x.kind === kind)) {
      const test = 'knownBug' in c && c.knownBug ? it.fails : it;
      test(c.name, async () => {
        const err = await outcomes.get(c);
        if (err) throw err;
      }, 300_000);
    }
  });
}

it('leaves no scratch, no orphan blob and nothing outside STORAGE_DIR, and stays healthy', async () => {
  const storage = e.svc.storage;
  expect(await filesUnder(path.join(storage, 'tmp'))).toEqual([]);
  const referenced = new Set((await e.svc.db('packages').select('sha256')).map((r) => r.sha256));
  const blobs = (await filesUnder(path.join(storage, 'blobs'))).map((f) => path.basename(f));
  expect(blobs.filter((b) => !referenced.has(b))).toEqual([]);
  await nothingEscaped();
  expect((await filesUnder(storage)).filter((f) => MARKERS.some((m) => f.includes(m)))).toEqual([]);
  await healthy(5_000);
});

// ------------------------------------------------------------------------------------------------ ticket cases

const openCaseTicket = (c: TicketCase, w: World, input: string | Buffer): Promise<number> =>
  rtSlot(() => openTicket(w, input, `hostile ${c.kind}: ${c.name}`, { by: c.actor ?? 'provider1', set: 'MoveToUnverified' }));

async function checkTicketCase(c: TicketCase, w: World, t: number): Promise<void> {
  const rel = await settled(t, c.transient === true);
  const x = c.expect;
  const db = e.svc.db;
  const tr = async () => (await db('transitions').where({ ticket_id: t }).orderBy('id')).map((r) => [r.outcome, r.code]);
  const status = async () => (await rtSlot(() => rt('releasedesk').getTicket(t))).customFields.RepoStatus?.[0] ?? '';

  if ('unverified' in x) {
    if (rel.status !== 'Unverified') expect.fail(`release status ${rel.status}: ${(await serviceComments(t, c.alone === true))[0]}`);
    expect(await status()).toBe('Unverified');
    await x.unverified(w, t);
  } else if ('failed' in x) {
    if (rel.status !== 'Failed') expect.fail(`release status ${rel.status}: ${(await serviceComments(t, c.alone === true))[0]}`);
    const comment = await commentWith(t, x.failed, c.alone === true);
    for (const re of typeof x.says === 'function' ? x.says(w) : x.says) expect(comment, 'the comment names what failed').toMatch(re);
    for (const re of x.never ?? []) expect(comment, 'the comment leaks nothing').not.toMatch(re);
    expect(comment).toMatch(/What to do: /);
    expect(await status()).toBe('Failed');
    expect(await tr()).toEqual([['failed', x.failed]]);
  } else {
    const comment = await commentWith(t, x.refused, c.alone === true);
    for (const re of typeof x.says === 'function' ? x.says(w) : x.says) expect(comment).toMatch(re);
    expect(rel.status).toBe('New');
    expect(await status()).toBe('');
    expect(await tr()).toEqual([['refused', x.refused]]);
  }
  if (!('unverified' in x)) await nothingPublished(w.product, t);
  await nothingEscaped();
  await healthy();
}

/** Waits until the ticket's events are handled, its release is out of Processing and its write-backs reached RT. */
async function settled(ticket: number, transient: boolean) {
  const db = e.svc.db;
  return until(
    async () => {
      if (transient) await finalAttemptNow(e.svc.queue.queue, ticket);
      const inbox = await db('inbox').where({ ticket_id: ticket });
      const rel = await db('releases').where({ ticket_id: ticket }).first();
      const undelivered = await db('outbox').where({ ticket_id: ticket }).whereNull('delivered_at').first();
      return inbox.length > 0 && inbox.every((r) => r.state !== 'pending') && rel && rel.status !== 'Processing' && !undelivered && rel;
    },
    240_000,
    `ticket ${ticket} settled`,
  );
}

/**
 * The service's comments on the ticket as RT shows them (read as root, who sees every queue), newest first. `huge`:
 * text parts are read one by one, since reading all attachments with their content would move a huge release.xml.
 */
async function serviceComments(ticket: number, huge = false): Promise<string[]> {
  const reader = rt('root');
  const texts = await rtSlot(async () => {
    if (!huge) return reader.textParts(ticket);
    const parts = await collect<{ id: number | string; ContentType?: string }>(reader.session, {
      path: `/ticket/${ticket}/attachments`,
      params: { fields: 'ContentType', orderby: 'id', order: 'DESC' },
    });
    const out = [];
    for (const p of parts.filter((x) => x.ContentType === 'text/plain'))
      out.push((await downloadAttachment(reader.session, Number(p.id))).toString('utf8'));
    return out;
  });
  return texts.filter((t) => t.includes('-- releasedesk op '));
}

/** The service's comment quoting `[code]` (its write-back was delivered before this is asked). */
async function commentWith(ticket: number, code: string, huge: boolean): Promise<string> {
  const all = await until(
    async () => {
      const got = await serviceComments(ticket, huge);
      return got.some((c) => c.includes(`[${code}]`)) && got;
    },
    30_000,
    `ticket ${ticket}: a comment with [${code}]`,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}; have:\n${(await serviceComments(ticket, huge)).join('\n---\n')}`);
  });
  return all.find((c) => c.includes(`[${code}]`))!;
}

// ------------------------------------------------------------------------------------------------ HTTP cases

async function runHttpCase(c: HttpCase, w: World): Promise<void> {
  const req = await c.send(w);
  const res = await fetch(e.svc.webhookUrl, { method: 'POST', body: new Uint8Array(Buffer.from(req.body)), headers: req.headers });
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  const x = c.expect;
  expect(res.status, JSON.stringify(answer)).toBe(x.http);
  if (x.error) expect(answer).toMatchObject({ error: x.error, next: expect.any(String) });
  for (const re of x.says ?? []) expect(String(answer.message)).toMatch(re);
  if (x.answer) expect(answer).toMatchObject(x.answer);

  const db = e.svc.db;
  const rows = () => db('inbox').where({ ticket_id: req.ticket, transaction_id: req.transaction });
  if (x.after === 'nothing') {
    expect(await rows()).toEqual([]);
  } else if (x.after === 'duplicate') {
    expect(await rows()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1000)); // give a wrongly queued job the time to show
    expect(await db('transitions').where({ ticket_id: req.ticket })).toHaveLength(1);
  } else {
    const row = await until(
      async () => {
        await finalAttemptNow(e.svc.queue.queue, req.ticket);
        return (await rows()).find((r) => r.state !== 'pending');
      },
      40_000,
      `inbox row of ticket ${req.ticket}`,
    );
    expect(row).toMatchObject({ state: 'ignored' });
    expect(row.outcome).toMatch(x.after.ignored);
    expect(await db('releases').where({ ticket_id: req.ticket })).toEqual([]);
    expect(await serviceComments(req.ticket)).toEqual([]);
  }
  await nothingEscaped();
  await healthy();
}

// ------------------------------------------------------------------------------------------------ shared checks

/** The release is in no repository (live or being built) and holds no package; its row is not in a published state. */
async function nothingPublished(product: string, ticket: number): Promise<void> {
  const storage = e.svc.storage;
  for (const stage of STAGES) {
    expect(await filesUnder(path.join(storage, 'repos', stage, product)), `repos/${stage}`).toEqual([]);
    expect(await filesUnder(path.join(storage, 'repos', '.versions', stage, product)), `repos/.versions/${stage}`).toEqual([]);
  }
  const rel = await e.svc.db('releases').where({ ticket_id: ticket }).first();
  expect(['Failed', 'New']).toContain(rel.status);
  expect(rel.revision).toBeNull();
  expect(await e.svc.db('packages').where({ release_id: rel.id })).toEqual([]);
}

/** The canary stays empty and no escape marker exists where a ../ or an absolute path could have put it. */
async function nothingEscaped(): Promise<void> {
  expect(await readdir(canary), 'canary directory').toEqual([]);
  const places = [path.dirname(e.svc.storage), tmpdir(), '/', process.cwd(), path.join(e.svc.storage, '..', '..')];
  for (const dir of places) for (const m of MARKERS) expect(existsSync(path.join(dir, m)), path.join(dir, m)).toBe(false);
}

/**
 * GET /healthz answers 200. One of its checks pings RT within 2 s, and this file keeps RT (a few Perl workers on
 * SQLite, on a shared machine) busy: while cases run, an RT that is merely slow gets up to a minute to answer in time.
 */
async function healthy(patienceMs = 60_000): Promise<void> {
  const deadline = Date.now() + patienceMs;
  let last = '';
  do {
    const res = await fetch(`${e.svc.url}/healthz`);
    if (res.status === 200) return;
    last = `${res.status} ${await res.text()}`;
    await new Promise((r) => setTimeout(r, 1000));
  } while (Date.now() < deadline);
  expect.fail(`GET /healthz: ${last}`);
}

/** At most n of the given calls run at once. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((r) => queue.push(r)); // the slot is handed over, still counted
    try {
      return await fn();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
