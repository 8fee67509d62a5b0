import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { run } from '../../services/cli/main.ts';
import { mirrorTargetRow } from '../../services/db/mirrors.ts';
import { createLogger } from '../../services/log.ts';
import { createMetrics } from '../../services/metrics.ts';
import { startSigner, type Signer } from '../../services/signing/signer.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import { publishDistribution } from '../../services/storage/dist-publish.ts';
import type { DistRef } from '../../services/storage/dist-ref.ts';
import { makeIndexEntries, type IndexEntry } from '../../services/storage/index-entries.ts';
import { mirrorOnce, type MirrorDeps } from '../../workers/mirror-sync.ts';
import { startApp, TEST_SECRET } from '../support/app.ts';
import { useTestDb } from '../support/db.ts';
import { startPrivateRsyncd, type PrivateRsyncd } from '../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages } from '../support/packages.ts';

// The worker's mirror loop, the API and the CLI around it, against a real rsync daemon.
const t = useTestDb();
let root: string;
let storageDir: string;
let signer: Signer;
let rsyncd: PrivateRsyncd;
let app: Awaited<ReturnType<typeof startApp>>;
let deps: MirrorDeps;
let entries: IndexEntry[];
const el9: DistRef = { stage: 'production', kind: 'yum', platform: 'el9', arch: 'x86_64' };
const TOKEN = 'operator-token-0123456789';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-mirror-loop-'));
  storageDir = join(root, 'storage');
  const [built, rs] = await Promise.all([buildTestPackages(join(root, 'pkgs'), 3), startPrivateRsyncd()]);
  rsyncd = rs;
  const store = new BlobStore(storageDir);
  await store.init();
  const pkgs = await adoptTestPackages(store, built.rpms);
  entries = await makeIndexEntries(storageDir, 'yum', pkgs, { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 });
  signer = await startSigner({ storageDir, keys: [] });
  const config = loadConfig({
    RT_TOKEN: 'test-token-0123456789abcdef',
    WEBHOOK_SECRET: TEST_SECRET,
    PUBLIC_READS: 'true',
    STORAGE_DIR: storageDir,
    API_TOKENS: TOKEN,
    MIRROR_TARGETS: `site=${rsyncd.url}/umd;delete`,
    MIRROR_CHECK_MS: '1000',
  });
  app = await startApp(t.db, { config, storageDir });
  deps = { db: t.db, log: createLogger('silent'), metrics: createMetrics(), config };
}, 180_000);
afterAll(async () => {
  await app?.close();
  await Promise.all([rsyncd?.destroy(), signer?.stop()]);
  await rm(root, { recursive: true, force: true });
});

let printed: string[];
beforeEach(() => {
  printed = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void printed.push(s));
  vi.spyOn(console, 'error').mockImplementation((s: string) => void printed.push(s));
});

const publish = (list: IndexEntry[]) => publishDistribution(el9, list, { storageDir, publicUrl: 'http://desk.invalid', signer });
const syncs = async () =>
  (await deps.metrics.mirrorSyncs.get()).values.filter((v) => v.labels.outcome === 'ok').reduce((n, v) => n + v.value, 0);
const cli = (...args: string[]) => run(['--url', app.url, '--token', TOKEN, ...args]);

describe('the mirror loop', () => {
  it('syncs on its first look, then only when Production changed: changes between two looks are one sync', async () => {
    await publish(entries.slice(0, 1));
    await mirrorOnce(deps);
    expect(await syncs()).toBe(1);
    await mirrorOnce(deps);
    expect(await syncs()).toBe(1);
    await publish(entries);
    await publish(entries.slice(0, 1));
    await publish(entries);
    await mirrorOnce(deps);
    expect(await syncs()).toBe(2);
    expect((await mirrorTargetRow(t.db, 'site'))?.uploaded).toBeGreaterThan(0);
  }, 60_000);

  it('tells each release waiting for a failing mirror once, and catches up when the target is back', async () => {
    await publish(entries.slice(0, 1));
    await mirrorOnce(deps);
    const later = new Date(Date.now() + 1000);
    await t.db('transitions').insert([
      { ticket_id: 7, action: 'MoveToProduction', to_status: 'Production', outcome: 'ok', finished_at: later },
      { ticket_id: 8, action: 'Deprecate', to_status: 'Deprecated', outcome: 'ok', finished_at: later },
      { ticket_id: 9, action: 'MoveToProduction', to_status: 'Production', outcome: 'failed', finished_at: later },
    ]);
    await publish(entries);
    await rsyncd.stop();
    try {
      await mirrorOnce(deps, new Date(Date.now() + 2000));
      await mirrorOnce(deps, new Date(Date.now() + 60_000)); // after the backoff: tried again, not said again
      const row = await mirrorTargetRow(t.db, 'site');
      expect(row?.failures).toBe(2);
      expect(row?.last_error_code).toBe('RD_MIRROR_UNAVAILABLE');
      const comments = await t.db('outbox').where({ kind: 'comment' }).orderBy('ticket_id');
      expect(comments.map((c) => c.ticket_id)).toEqual([7, 8]);
      expect(comments[0].payload.text).toContain('mirror "site"');
      expect(comments[0].payload.text).toContain('[RD_MIRROR_UNAVAILABLE]');
      expect(await cli('sync', 'status')).toBe(0);
      expect(printed.join('\n')).toMatch(/site.*failing.*RD_MIRROR_UNAVAILABLE/s);
      const health = await (await fetch(`${app.url}/healthz`)).json();
      expect(health.mirrors.site).toMatchObject({ state: 'failing', failures: 2, last_error_code: 'RD_MIRROR_UNAVAILABLE' });
    } finally {
      await rsyncd.start();
    }
    await mirrorOnce(deps, new Date(Date.now() + 10 * 60_000));
    expect(await mirrorTargetRow(t.db, 'site')).toMatchObject({ failures: 0, last_error_code: null });
    expect((await (await fetch(`${app.url}/mirrors`)).json()).mirrors[0]).toMatchObject({ state: 'in-step', lag_seconds: 0 });
  }, 60_000);
});

describe('the API and the CLI', () => {
  it('print the plan of a dry run (with a token only) and change nothing', async () => {
    await publish(entries);
    expect((await fetch(`${app.url}/mirrors/plan`)).status).toBe(401);
    expect(await cli('sync', '--dry-run')).toBe(0);
    const text = printed.join('\n');
    expect(text).toContain('BYTES UP');
    expect(text).toMatch(/site/);
    expect(text).toContain('dry run: nothing was changed');
    expect(await mirrorTargetRow(t.db, 'site')).toBeUndefined();
    expect(await cli('sync', '--dry-run', '--target', 'nope')).toBe(1);
    expect(printed.join('\n')).toContain('no mirror named "nope"; configured: site');
  });

  it('sync now: the request makes the next look sync, and the CLI waits for it', async () => {
    await publish(entries);
    await mirrorOnce(deps);
    const before = await syncs();
    const waiting = cli('sync', '--timeout', '20');
    await new Promise((r) => setTimeout(r, 300));
    await mirrorOnce(deps); // the worker's next look
    expect(await waiting).toBe(0);
    expect(await syncs()).toBe(before + 1);
    expect(printed.join('\n')).toMatch(/site.*in-step/s);
    expect(await cli('sync', 'bogus')).toBe(2);
  }, 60_000);
});
