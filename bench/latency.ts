/**
 * Latency objective: RepoAction set in RT -> RepoStatus written back to RT, with N tickets acting at once,
 * per action type, through the real RT, PostgreSQL, Redis and a worker process. The clock starts when RT
 * has taken the change (the REST call returned) and stops when the outbox delivered the final RepoStatus
 * (its delivered_at), both on this machine's clock.
 *   node bench/latency.ts [tickets=100]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RtClient } from '../services/helpdesk/rt-client.ts';
import { transitions, type RepoAction } from '../services/workflow/transitions.ts';
import { buildTestPackages } from '../test/support/packages.ts';
import { startProviderServer } from '../test/support/provider-server.ts';
import { releaseXml } from '../test/support/release-xml.ts';
import { ensureRtRunning, pointWebhookAt, rtClient } from '../test/support/rt.ts';
import { E2E_SECRET, startTestService } from '../test/support/service.ts';
import { runMain } from './run-main.ts';

const N = Number(process.argv[2] ?? 100);
const root = path.resolve(import.meta.dirname, '..');

/** Runs `fn` over `xs` with at most `n` at a time (RT serves a handful of requests at once). */
async function pool<T>(xs: T[], n: number, fn: (x: T) => Promise<void>) {
  const queue = [...xs];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
    }),
  );
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main() {
  await ensureRtRunning();
  const work = await mkdtemp(path.join(tmpdir(), 'rd-latency-'));
  const pkgs = await buildTestPackages(path.join(work, 'pkgs'), 3);
  const provider = await startProviderServer({ dir: pkgs.dir });
  const svc = await startTestService({ WORKER_CONCURRENCY: '8', LOG_LEVEL: 'warn' }, 'api');
  const worker = spawn(process.execPath, ['--max-semi-space-size=2', 'services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...svc.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const hook = await pointWebhookAt(svc.webhookUrl, E2E_SECRET);
  const run = Date.now().toString(36);
  const actors: Record<string, RtClient> = { provider1: rtClient('provider1'), tug1: rtClient('tug1'), rollout1: rtClient('rollout1') };
  const results: Record<string, number[]> = {};
  try {
    const p = pkgs.rpm('testpkg');
    const tickets: number[] = [];
    await pool(
      Array.from({ length: N }, (_, i) => i),
      8,
      async (i) => {
        const xml = releaseXml({
          product: `BENCH.lat${i}.${run}`,
          packages: [
            {
              filename: p.filename,
              pkgname: 'testpkg',
              version: '1.0.0',
              release: '1',
              arch: 'noarch',
              url: `${provider.url}/rpm/${p.filename}`,
              sha256: p.sha256,
            },
          ],
        });
        tickets.push(
          await actors.provider1!.createTicket({
            subject: `latency ${i} ${run}`,
            requestor: 'provider1',
            content: 'bench',
            attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
          }),
        );
      },
    );
    await new Promise((r) => setTimeout(r, 2000)); // the worker process is up

    /** All tickets ask for `action` at once; each one's latency once its final RepoStatus is in RT. */
    async function round(action: RepoAction, who: string, ts: number[]) {
      const t0 = Date.now();
      const asked = new Map<number, number>();
      await pool([...ts], 10, async (t) => {
        await actors[who]!.setCustomFields(t, { RepoAction: action });
        asked.set(t, Date.now());
      });
      const status = transitions[action].success;
      const done = new Map<number, number>();
      while (done.size < ts.length) {
        if (Date.now() - t0 > 15 * 60_000) throw new Error(`${action}: only ${done.size}/${ts.length} reached ${status}`);
        const rows = await svc
          .db('outbox')
          .whereIn('ticket_id', ts)
          .whereNotNull('delivered_at')
          .where('kind', 'fields')
          .whereRaw(`payload->'fields'->>'RepoStatus' = ?`, [status])
          .select('ticket_id', 'delivered_at');
        for (const r of rows) if (!done.has(r.ticket_id)) done.set(r.ticket_id, new Date(r.delivered_at).getTime());
        const failed = await svc.db('releases').whereIn('ticket_id', ts).where('status', 'Failed').pluck('ticket_id');
        if (failed.length) throw new Error(`${action}: tickets ${failed.join(', ')} failed`);
        await new Promise((r) => setTimeout(r, 200));
      }
      results[action] = ts.map((t) => done.get(t)! - asked.get(t)!);
      console.log(
        `${action.padEnd(20)} ${ts.length} tickets at once: p50 ${(pct(results[action], 50) / 1000).toFixed(2)} s, p95 ${(pct(results[action], 95) / 1000).toFixed(2)} s, all done in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    }

    await round('MoveToUnverified', 'provider1', tickets);
    await round('MoveToStageRollOut', 'tug1', tickets);
    const half = Math.ceil(tickets.length / 2);
    await round('MoveToProduction', 'rollout1', tickets.slice(0, half));
    await round('Reject', 'tug1', tickets.slice(half));
    await round('Deprecate', 'rollout1', tickets.slice(0, half));
    console.log(`\n| action | tickets at once | p50 | p95 |\n| --- | --- | --- | --- |`);
    for (const [a, xs] of Object.entries(results))
      console.log(`| ${a} | ${xs.length} | ${(pct(xs, 50) / 1000).toFixed(2)} s | ${(pct(xs, 95) / 1000).toFixed(2)} s |`);
  } finally {
    worker.kill('SIGKILL');
    await hook.restore();
    await svc.close();
    await provider.close();
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
