/**
 * RT unreachable for a while: a loopback TCP proxy sits between the service and RT (RT_URL points at it)
 * and another between RT's webhook scrip and the service. Downloads and a write-back are under way when RT
 * is cut off; more actions are set in RT during the outage, first with their webhooks arriving (the service
 * cannot check them with RT), then with the webhooks lost too (the reconciler must find them once RT is
 * back). The proxies reset every connection, then close them, then leave them unanswered, then refuse
 * them. Meanwhile /healthz must say degraded, naming the helpdesk; afterwards every write-back must have
 * reached RT, once and in order per ticket, and every action must have taken effect once.
 * Short by default (6 tickets, ~25 s outage); FAULTS_SCALE=n gives 6n tickets and n x 40 s (<= 5 min).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RtClient } from '../../services/helpdesk/rt-client.ts';
import { createDb } from '../../services/db/knex.ts';
import { openTicket, opMarkers, repoStatus, rpmSpec, finalStatuses, useE2E, STEP, type Step, type Who } from '../support/e2e.ts';
import { TEST_DATABASE_URL } from '../support/env.ts';
import { buildTestPackages, type TestPackages } from '../support/packages.ts';
import { releaseXml } from '../support/release-xml.ts';
import { pointWebhookAt, RT_URL, rtClient } from '../support/rt.ts';
import { E2E_SECRET } from '../support/service.ts';
import { startTcpProxy, type DropMode, type TcpProxy } from '../support/tcp-proxy.ts';

const scale = Math.max(1, Number(process.env.FAULTS_SCALE ?? 1));
const TICKETS = 6 * scale;
/** Tickets whose download is under way when RT goes away: each holds one of the worker's 4 job slots meanwhile. */
const SLOW = scale > 1 ? 3 : 2;
const OUTAGE_MS = scale > 1 ? Math.min(300_000, 40_000 * scale) : 25_000;
/** A gated download trickles this much a second, above the downloader's minimum rate (1 KiB/s), until released. */
const TRICKLE = 2048;
const STEP_MS = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The proxies exist before the service starts: its RT_URL is filled in by the first beforeAll.
const over: Record<string, string> = { RECONCILE_INTERVAL_MS: '2000' };
let toRt: TcpProxy;
let toService: TcpProxy;
let slowPkgs: TestPackages;
beforeAll(async () => {
  toRt = await startTcpProxy(Number(new URL(RT_URL).port));
  toService = await startTcpProxy();
  over.RT_URL = toRt.url;
  // the reconciler starts after RT's newest transaction, not at a cursor an earlier run left in this database
  const db = createDb(TEST_DATABASE_URL);
  await db('kv')
    .where('key', 'like', 'reconcile:%')
    .del()
    .catch(() => undefined);
  await db.destroy();
});
const e = useE2E(over);
let restoreHook: (() => Promise<void>) | undefined;
beforeAll(async () => {
  toService.setTarget(Number(new URL(e.svc.url).port));
  restoreHook = (await pointWebhookAt(`${toService.url}/webhooks/rt`, E2E_SECRET)).restore;
  // big enough to trickle through the first part of the outage and a margin before it
  const payloadKb = Math.ceil((TRICKLE / 1024) * (OUTAGE_MS / 4 / 1000 + 90));
  slowPkgs = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs-outage-')), SLOW, {
    core: false,
    fillPrefix: 'outagepkg',
    payloadKb,
  });
}, 120_000);
afterAll(async () => {
  if (slowPkgs) await rm(slowPkgs.dir, { recursive: true, force: true });
  await restoreHook?.();
  await toRt?.close();
  await toService?.close();
});

const { U, S, P, R } = STEP;
const D = STEP.D('tug1');

/** Slow tickets are downloading their package when RT goes away; fast ones are at Unverified and get their next action during the outage. */
const SLOW_STEPS: Step[][] = [
  [U, S, P],
  [U, R],
  [U, S, P, D],
];
const FAST_STEPS: Step[][] = [
  [U, S, P, D],
  [U, R, U],
  [U, S, R],
  [U, S, P],
];

interface Ticket {
  id: number;
  slow: boolean;
  steps: Step[];
}

/** A download that trickles TRICKLE bytes a second (neither idle nor too slow for the downloader) until released. */
function gated(body: Buffer, released: () => boolean) {
  return (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
    let sent = 0;
    const tick = setInterval(() => {
      if (released() || sent + TRICKLE >= body.length) {
        clearInterval(tick);
        res.end(body.subarray(sent));
      } else {
        res.write(body.subarray(sent, sent + TRICKLE));
        sent += TRICKLE;
      }
    }, 1_000);
    res.on('close', () => clearInterval(tick));
  };
}

async function act(t: Ticket, k: number, clients: Record<Who, RtClient>) {
  const s = t.steps[k]!;
  if (s.action === 'Reject' || s.action === 'Deprecate') await clients[s.who].comment(t.id, `reason ${t.id}.${k}`);
  await clients[s.who].setCustomFields(t.id, { RepoAction: s.action });
}

/** Step k took effect everywhere: the database, the outbox drained, RT. */
async function reach(t: Ticket, k: number) {
  const want = t.steps[k]!.want;
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const db = (await e.svc.db('releases').where({ ticket_id: t.id }).first())?.status;
    const [queued] = await e.svc.db('outbox').where({ ticket_id: t.id }).whereNull('delivered_at').count({ n: '*' });
    if (db === want && Number(queued!.n) === 0 && (await repoStatus(e, t.id)) === want) return;
    if (db === 'Failed' || db === 'Incomplete' || Date.now() > deadline) {
      throw new Error(
        `ticket ${t.id}, ${t.steps[k]!.action}: the database has ${db}, ${queued!.n} write-backs queued, RT ${await repoStatus(e, t.id)}`,
      );
    }
    await sleep(700);
  }
}

async function health() {
  const res = await fetch(`${e.svc.url}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('RT unreachable while actions are in flight and new ones arrive', () => {
  it(
    `${TICKETS} tickets, ${OUTAGE_MS / 1000} s outage: health says so, then every write-back once, in order`,
    async () => {
      const t0 = Date.now();
      const clients = { provider1: e.prov, tug1: rtClient('tug1'), rollout1: rtClient('rollout1') };
      let released = false;
      const tickets: Ticket[] = await Promise.all(
        Array.from({ length: TICKETS }, async (_, i) => {
          const slow = i < SLOW;
          let spec = rpmSpec(e, 'testpkg');
          if (slow) {
            // its own package (a digest already stored would not be downloaded at all), behind a gate
            const p = slowPkgs.rpms[i]!;
            e.provider.route(`/gated/${p.filename}`, { handler: gated(await readFile(p.path), () => released) });
            spec = {
              filename: p.filename,
              pkgname: p.name,
              version: '1.0.0',
              release: '1',
              arch: 'noarch',
              url: `${e.provider.url}/gated/${p.filename}`,
              sha256: p.sha256,
            };
          }
          const id = await openTicket(e, releaseXml({ product: `TESTTP.outage${i}.${e.run}`, packages: [spec] }), `outage ${i}`);
          return { id, slow, steps: slow ? SLOW_STEPS[i % SLOW_STEPS.length]! : FAST_STEPS[(i - SLOW) % FAST_STEPS.length]! };
        }),
      );
      const fast = tickets.filter((t) => !t.slow);
      const slow = tickets.filter((t) => t.slow);
      const hooked = fast.filter((_, j) => j % 2 === 0); // their next action's webhook arrives during the outage
      const lost = fast.filter((_, j) => j % 2 === 1); // theirs does not
      const count = async (q: Promise<Array<{ n?: unknown }>>) => Number((await q)[0]!.n);
      const until = async (what: string, ok: () => Promise<boolean>) => {
        const deadline = Date.now() + STEP_MS;
        while (!(await ok())) {
          if (Date.now() > deadline) throw new Error(`never: ${what}`);
          await sleep(300);
        }
      };

      // before: everyone asks for Unverified; the fast ones get there, then the slow ones start downloading
      await Promise.all(fast.map((t) => act(t, 0, clients)));
      await until(
        'the fast tickets are Unverified',
        async () =>
          (await count(
            e.svc
              .db('releases')
              .whereIn(
                'ticket_id',
                fast.map((t) => t.id),
              )
              .where({ status: 'Unverified' })
              .count({ n: '*' }),
          )) === fast.length,
      );
      expect((await health()).status).toBe(200);
      await Promise.all(slow.map((t) => act(t, 0, clients)));
      await until(
        'the slow tickets download',
        async () =>
          (await count(
            e.svc
              .db('checkpoints')
              .join('inbox', 'inbox.id', 'checkpoints.inbox_id')
              .whereIn(
                'inbox.ticket_id',
                slow.map((t) => t.id),
              )
              .where({ step: 'fetch-metadata' })
              .count({ n: '*' }),
          )) === slow.length,
      );
      // RT goes away while a write-back is on its way to it, when one can be caught (attempted, neither delivered nor failed)
      let caught: { marker: string } | undefined;
      const pending = () =>
        e.svc
          .db('outbox')
          .whereIn(
            'ticket_id',
            tickets.map((t) => t.id),
          )
          .whereNull('delivered_at');
      while (!caught && (await pending().first())) {
        caught = await pending().where('attempts', '>', 0).whereNull('last_error').first();
        if (!caught) await sleep(20);
      }

      // the outage, in four parts: connections reset, closed, left unanswered, refused
      const samples: Array<{ mode: DropMode; status: number; body: { status: string; checks: Record<string, string> } }> = [];
      const serving: number[] = [];
      const cutAt = Date.now();
      // during it, the fast ones (Unverified in the service; RT may not show it yet) get their next action
      const part = async (rt: DropMode, hook: 'pass' | DropMode, during: () => Promise<void>) => {
        await toRt.drop(rt);
        if (hook === 'pass') await toService.pass();
        else await toService.drop(hook);
        const until = Date.now() + OUTAGE_MS / 4;
        const sample = async () => {
          samples.push({ mode: rt, ...(await health()) });
          serving.push((await fetch(`${e.svc.url}/releases/${tickets[0]!.id}`)).status);
        };
        await sample();
        await during();
        while (Date.now() < until) {
          await sleep(2_000);
          await sample();
        }
      };
      await part('reset', 'pass', async () => {
        for (const t of hooked) await act(t, 1, clients);
      });
      released = true; // the slow downloads finish now: their actions end while RT is away
      await part('close', 'reset', async () => {
        for (const t of lost) await act(t, 1, clients);
      });
      await part('hang', 'hang', async () => undefined);
      await part('refuse', 'refuse', async () => undefined);
      const outboxDuring = await e.svc
        .db('outbox')
        .whereIn(
          'ticket_id',
          tickets.map((t) => t.id),
        )
        .whereNull('delivered_at')
        .count({ n: '*' });
      await toRt.pass();
      await toService.pass();
      const backAt = Date.now();
      let after = await health();
      while (after.status !== 200 && Date.now() - backAt < 30_000) {
        await sleep(500);
        after = await health();
      }
      console.log(
        `rt-outage: RT cut off ${((backAt - cutAt) / 1000).toFixed(1)} s${caught ? ` in the middle of delivering ${caught.marker}` : ''}; ` +
          `${outboxDuring[0]!.n} write-backs waiting at the end of it; ` +
          `health back in ${((Date.now() - backAt) / 1000).toFixed(1)} s; proxy dropped ${toRt.stats.dropped} connections to RT, ${toService.stats.dropped} webhooks`,
      );

      expect(new Set(samples.map((s) => s.mode))).toEqual(new Set(['reset', 'close', 'hang', 'refuse']));
      for (const s of samples) {
        expect(s.status, s.mode).toBe(503);
        expect(s.body.status).toBe('degraded');
        expect(s.body.checks.helpdesk).toMatch(/^down/);
        expect(s.body.checks).toMatchObject({ postgres: 'ok', redis: 'ok' });
      }
      expect(
        serving.every((c) => c === 200),
        'the API kept answering',
      ).toBe(true);
      expect(after).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(Number(outboxDuring[0]!.n), 'write-backs queued while RT was away').toBeGreaterThan(0);

      // after: every ticket walks to its end
      await Promise.all(
        tickets.map(async (t) => {
          const k = t.slow ? 0 : 1; // the step each one was at when RT came back
          await reach(t, k);
          for (let j = k + 1; j < t.steps.length; j++) {
            await act(t, j, clients);
            await reach(t, j);
          }
        }),
      );
      console.log(
        `rt-outage: ${tickets.reduce((n, t) => n + t.steps.length, 0)} actions on ${TICKETS} tickets in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );

      for (const t of tickets) {
        const label = `ticket ${t.id} (${t.steps.map((s) => s.action).join(' > ')})`;
        const final = t.steps.at(-1)!.want;
        expect(await repoStatus(e, t.id), label).toBe(final);
        expect((await e.svc.db('releases').where({ ticket_id: t.id }).first())?.status, label).toBe(final);
        // no action lost, none twice; those whose webhook was lost came through the reconciler. (The reconciler
        // may also record the ticket's creation as an event, which the worker checks with RT and ignores.)
        const all = await e.svc.db('inbox').where({ ticket_id: t.id }).orderBy('transaction_id');
        const inbox = all.filter((r) => r.state !== 'ignored');
        expect(
          inbox.map((r) => [r.action, r.state]),
          label,
        ).toEqual(t.steps.map((s) => [s.action, 'done']));
        expect(
          all.filter((r) => r.state === 'ignored').map((r) => r.event),
          label,
        ).toEqual(all.filter((r) => r.state === 'ignored').map(() => 'ticket.created'));
        if (lost.includes(t)) expect(inbox[1]!.source, label).toBe('reconciler');
        if (hooked.includes(t)) expect(inbox[1]!.source, label).toBe('webhook');
        const tr = await e.svc.db('transitions').where({ ticket_id: t.id }).orderBy('id');
        expect(
          tr.map((r) => [r.action, r.outcome, r.to_status]),
          label,
        ).toEqual(t.steps.map((s) => [s.action, 'ok', s.want]));
        expect(
          tr.map((r) => Number(r.transaction_id)),
          label,
        ).toEqual(inbox.map((r) => Number(r.transaction_id)));
        // RT got every write-back once, in the order the service made them
        expect(await finalStatuses(e, t.id), label).toEqual(tr.map((r) => r.to_status));
        const outbox = await e.svc.db('outbox').where({ ticket_id: t.id }).orderBy('id');
        expect(
          outbox.filter((o) => !o.delivered_at),
          label,
        ).toEqual([]);
        const times = outbox.map((o) => new Date(o.delivered_at).getTime());
        expect(times, `${label}: delivered in order`).toEqual([...times].sort((a, b) => a - b));
        expect(await opMarkers(e, t.id), label).toEqual(outbox.filter((o) => o.kind === 'comment').map((o) => o.marker));
      }
      // the slow tickets' actions ended during the outage; their write-backs reached RT only afterwards
      for (const t of slow) {
        const first = await e.svc.db('transitions').where({ ticket_id: t.id }).orderBy('id').first();
        expect(new Date(first.finished_at).getTime(), `ticket ${t.id} finished its download while RT was away`).toBeLessThan(backAt);
      }
      const late = await e.svc
        .db('outbox')
        .whereIn(
          'ticket_id',
          slow.map((t) => t.id),
        )
        .where('created_at', '<', new Date(backAt))
        .where('delivered_at', '>=', new Date(backAt))
        .count({ n: '*' });
      expect(Number(late[0]!.n)).toBeGreaterThan(0);
    },
    600_000 + OUTAGE_MS * 2,
  );
});
