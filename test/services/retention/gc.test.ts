import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { run } from '../../../services/cli/main.ts';
import { lockKeys, withLocks } from '../../../services/db/locks.ts';
import { createLogger } from '../../../services/log.ts';
import { gcPlan, runGc } from '../../../services/retention/gc.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { poolDir } from '../../../services/storage/dist-pool.ts';
import { poolHref } from '../../../services/storage/dist-ref.ts';
import { blobKey, pushBlobs } from '../../../services/storage/objects/blob-copies.ts';
import { backBlobsWith } from '../../../services/storage/objects/open.ts';
import { S3ObjectStore } from '../../../services/storage/objects/s3-store.ts';
import type { ObjectStore } from '../../../services/storage/objects/store.ts';
import { startApp, TEST_SECRET } from '../../support/app.ts';
import { useTestDb } from '../../support/db.ts';
import { fails } from '../../support/errors.ts';
import { startPrivateSwift, type PrivateSwift } from '../../support/mirror-servers.ts';

// Retention on a real store and database: which releases are past it, what is deleted and what stays.
const t = useTestDb();
let storageDir: string;
const log = createLogger('silent');
const TOKEN = 'operator-token-0123456789';
let config: ReturnType<typeof loadConfig>;
let app: Awaited<ReturnType<typeof startApp>>;
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

beforeAll(async () => {
  storageDir = await mkdtemp(join(tmpdir(), 'rd-gc-'));
  config = loadConfig({ RT_TOKEN: 'test-token-0123456789abcdef', WEBHOOK_SECRET: TEST_SECRET, STORAGE_DIR: storageDir, API_TOKENS: TOKEN });
  app = await startApp(t.db, { config, storageDir });
});
afterAll(async () => {
  await app?.close();
  await rm(storageDir, { recursive: true, force: true });
});

let printed: string[];
let files: Record<string, { sha256: string; size: number; filename: string }>;
beforeEach(async () => {
  printed = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void printed.push(s));
  vi.spyOn(console, 'error').mockImplementation((s: string) => void printed.push(s));
  await rm(storageDir, { recursive: true, force: true });
  const store = new BlobStore(storageDir);
  await store.init();
  files = {};
  for (const name of ['old-dep', 'fresh-dep', 'rejected', 'shared', 'failed-own', 'staged']) {
    const bytes = Buffer.from(`package ${name} `.repeat(100));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const filename = `${name}-1.0-1.noarch.rpm`;
    const tmp = store.tempPath();
    await writeFile(tmp, bytes);
    await store.adopt(tmp, sha256, bytes.length);
    const pooled = join(poolDir(storageDir), '..', poolHref(sha256, filename));
    await mkdir(dirname(pooled), { recursive: true });
    await writeFile(pooled, bytes);
    await t.db('blobs').insert({ sha256, size: bytes.length }).onConflict('sha256').ignore();
    files[name] = { sha256, size: bytes.length, filename };
  }
  const release = async (ticket: number, status: string, at: Date, pkgs: string[], deprecated = false) => {
    const [r] = await t
      .db('releases')
      .insert({
        ticket_id: ticket,
        status,
        product_short_name: `P.${ticket}`,
        version: '1.0',
        platform: 'el9',
        arch: 'noarch',
        repo_kind: 'yum',
        updated_at: at,
        deprecated_at: deprecated ? at : null,
        revision: deprecated ? 1 : null,
      })
      .returning('id');
    for (const p of pkgs) {
      const f = files[p]!;
      await t.db('packages').insert({
        release_id: r.id,
        filename: f.filename,
        pkgname: p,
        version: '1.0',
        rel: '1',
        arch: 'noarch',
        format: 'rpm',
        sha256: f.sha256,
        size: f.size,
      });
    }
    return Number(r.id);
  };
  await release(1, 'Deprecated', ago(100), ['old-dep'], true);
  await release(2, 'Deprecated', ago(10), ['fresh-dep'], true);
  await release(3, 'Rejected', ago(40), ['rejected', 'shared']);
  await release(4, 'Production', ago(200), ['shared']);
  await release(5, 'Failed', ago(31), ['failed-own']);
  const staged = await release(6, 'Rejected', ago(400), ['staged']);
  await t.db('stage_members').insert({ release_id: staged, stage: 'stage-rollout' }); // still shown somewhere: never purged
  await mkdir(join(storageDir, 'exports'), { recursive: true });
  await writeFile(join(storageDir, 'exports', 'P.1-1.0-r1-t1.bundle.tar.gz'), 'bundle');
});

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const blobPath = (name: string) => new BlobStore(storageDir).path(files[name]!.sha256);
const pooled = (name: string) => join(poolDir(storageDir), files[name]!.sha256.slice(0, 2), files[name]!.sha256);

describe('gc', () => {
  it('plans the releases past their retention, counting a file shared with a live release as kept', async () => {
    const { plan } = await gcPlan({ db: t.db, log, config });
    expect(plan.releases.map((r) => [r.ticket, r.status, r.deleted, r.kept])).toEqual([
      [1, 'Deprecated', 1, 0],
      [3, 'Rejected', 1, 1],
      [5, 'Failed', 1, 0],
    ]);
    expect(plan.bytesFreed).toBe(files['old-dep']!.size + files.rejected!.size + files['failed-own']!.size);
    expect(await exists(blobPath('old-dep'))).toBe(true); // a plan deletes nothing
  });

  it('purges them: files and pool entries gone, shared ones kept, tombstone and one comment each, exports removed', async () => {
    const done = await runGc({ db: t.db, log, config });
    expect(done.releases.map((r) => r.ticket)).toEqual([1, 3, 5]);
    for (const gone of ['old-dep', 'rejected', 'failed-own']) {
      expect(await exists(blobPath(gone))).toBe(false);
      expect(await exists(pooled(gone))).toBe(false);
    }
    for (const kept of ['shared', 'fresh-dep', 'staged']) {
      expect(await exists(blobPath(kept))).toBe(true);
      expect(await exists(pooled(kept))).toBe(true);
    }
    expect(await exists(join(storageDir, 'exports', 'P.1-1.0-r1-t1.bundle.tar.gz'))).toBe(false);
    const r1 = await t.db('releases').where({ ticket_id: 1 }).first();
    expect(r1.status).toBe('Deprecated');
    expect(r1.tombstone.purged).toMatchObject({
      reason: expect.stringContaining('DEPRECATED_RETENTION_DAYS=90'),
      packages: [{ filename: files['old-dep']!.filename }],
    });
    expect(await t.db('packages').whereIn('release_id', t.db('releases').whereIn('ticket_id', [1, 3, 5]).select('id'))).toEqual([]);
    const comments = await t.db('outbox').orderBy('ticket_id');
    expect(comments.map((c) => c.ticket_id)).toEqual([1, 3, 5]);
    expect(comments[0].payload.text).toContain('[RD_RELEASE_PURGED]');
    expect(comments[0].payload.text).toContain('can no longer be restored');
    expect(comments[1].payload.text).toContain('1 file(s) stay because other releases ship the same bytes');
    expect((await runGc({ db: t.db, log, config })).releases).toEqual([]); // once
    expect(await t.db('outbox').count('* as n').first()).toMatchObject({ n: 3 });
    // the purged release can no longer be exported
    const res = await fetch(`${app.url}/releases/1/bundle`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(410);
    expect((await res.json()).error).toBe('RD_RELEASE_PURGED');
  });

  it('leaves a release whose ticket an action holds for the next run', async () => {
    let purged: number[] = [];
    await withLocks(t.db, [lockKeys.ticket(1)], async () => {
      purged = (await runGc({ db: t.db, log, config })).releases.map((r) => r.ticket);
    });
    expect(purged).toEqual([3, 5]);
    expect(await exists(blobPath('old-dep'))).toBe(true);
    expect((await runGc({ db: t.db, log, config })).releases.map((r) => r.ticket)).toEqual([1]);
  });

  it('deletes blobs no release records, left by a purge cut short', async () => {
    await t.db('packages').where({ sha256: files['fresh-dep']!.sha256 }).del();
    await t
      .db('blobs')
      .where({ sha256: files['fresh-dep']!.sha256 })
      .update({ created_at: ago(2) });
    const done = await runGc({ db: t.db, log, config });
    expect(done.leftovers).toEqual({ files: 1, bytes: files['fresh-dep']!.size });
    expect(await exists(blobPath('fresh-dep'))).toBe(false);
  });

  it('releasedesk gc --dry-run prints the table and deletes nothing; gc purges; both need a token', async () => {
    expect(await run(['--url', app.url, 'gc', '--dry-run'])).toBe(1);
    expect(await run(['--url', app.url, '--token', TOKEN, 'gc', '--dry-run'])).toBe(0);
    const text = printed.join('\n');
    expect(text).toMatch(/TICKET.*STATUS.*FREED/);
    expect(text).toMatch(/1 .*Deprecated/);
    expect(text).toContain('dry run: nothing was deleted');
    expect(await exists(blobPath('old-dep'))).toBe(true);
    expect(await run(['--url', app.url, '--token', TOKEN, 'gc'])).toBe(0);
    expect(printed.join('\n')).toMatch(/freed \d/);
    expect(await exists(blobPath('old-dep'))).toBe(false);
  });
});

describe('gc with an object store behind the blobs (BLOB_STORE, a real Swift)', () => {
  let swift: PrivateSwift;
  let store: S3ObjectStore;
  let bucket = 0;
  let lines: Array<{ level: number; msg: string; err?: { message: string } }>;
  const logged = () => pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  beforeAll(async () => {
    swift = await startPrivateSwift();
  }, 180_000);
  afterAll(async () => {
    await swift?.stop();
  });
  // every blob of the seed is in the store too, as a worker that adopted it put it there
  beforeEach(async () => {
    lines = [];
    const at = { endpoint: swift.endpoint, region: 'us-east-1', prefix: '', accessKeyId: swift.accessKeyId };
    store = new S3ObjectStore({ ...at, bucket: `rd-gc-${++bucket}`, secretAccessKey: swift.secretAccessKey });
    const blobs = new BlobStore(storageDir);
    await pushBlobs(
      store,
      Object.values(files).map((f) => f.sha256),
      (sha) => blobs.path(sha),
    );
    backBlobsWith(storageDir, store);
  });
  afterEach(async () => {
    backBlobsWith(storageDir, null);
    await store.close();
  });
  const inStore = async (name: string) => (await store.head(blobKey(files[name]!.sha256))) !== null;
  const errors = () => lines.filter((l) => l.level >= 50);

  it('deletes a purged blob from the store too, and keeps there those another release uses', async () => {
    expect((await runGc({ db: t.db, log, config })).releases.map((r) => r.ticket)).toEqual([1, 3, 5]);
    for (const gone of ['old-dep', 'rejected', 'failed-own']) expect(await inStore(gone)).toBe(false);
    for (const kept of ['shared', 'fresh-dep', 'staged']) expect(await inStore(kept)).toBe(true);
  });

  it('the store away: nothing is purged and the log says why; once it is back the next run purges', async () => {
    await swift.stopProxy();
    try {
      await fails(runGc({ db: t.db, log: logged(), config }), 'RD_STORE_UNAVAILABLE');
    } finally {
      await swift.startProxy();
    }
    expect(errors().map((l) => l.msg)).toEqual([
      expect.stringMatching(/^gc not run: the object store .* does not answer; nothing was purged/),
    ]);
    expect((await t.db('releases').where({ ticket_id: 1 }).first()).tombstone).toBeNull();
    expect(await t.db('outbox').count('* as n').first()).toMatchObject({ n: 0 });
    expect(await inStore('old-dep')).toBe(true);
    expect((await runGc({ db: t.db, log, config })).releases.map((r) => r.ticket)).toEqual([1, 3, 5]);
    expect(await inStore('old-dep')).toBe(false);
  });

  it('the store going away mid-run: the blobs stay recorded, here and there; the dry run counts them; a later run deletes them', async () => {
    // the store answers gc's first question, then its proxy stops: the deletion of the first release's blob fails
    let stopped = false;
    const goesAway: ObjectStore = Object.assign(Object.create(store), {
      ping: async () => {
        await store.ping();
        await swift.stopProxy();
        stopped = true;
      },
    });
    backBlobsWith(storageDir, goesAway);
    try {
      const e = await fails(runGc({ db: t.db, log: logged(), config }), 'RD_STORE_UNAVAILABLE');
      expect(e.message).toContain(blobKey(files['old-dep']!.sha256));
    } finally {
      if (stopped) await swift.startProxy(); // a second proxy beside a running one would outlive the test
      backBlobsWith(storageDir, store);
    }
    expect(errors()).toEqual([
      expect.objectContaining({
        msg: expect.stringContaining('gc stopped: the object store did not delete the blobs; they stay recorded'),
      }),
    ]);
    // release 1 is purged (its record), its blob is not: still recorded, here and in the store
    expect((await t.db('releases').where({ ticket_id: 1 }).first()).tombstone.purged).toBeTruthy();
    expect(await t.db('blobs').where({ sha256: files['old-dep']!.sha256 }).first()).toBeTruthy();
    expect(await exists(blobPath('old-dep'))).toBe(true);
    expect(await inStore('old-dep')).toBe(true);

    const later = new Date(Date.now() + 2 * DAY); // leftovers are deleted once a day old
    const { plan } = await gcPlan({ db: t.db, log, config }, later);
    expect(plan.releases.map((r) => r.ticket)).toEqual([3, 5]);
    expect(plan.leftovers).toEqual({ files: 1, bytes: files['old-dep']!.size });
    const done = await runGc({ db: t.db, log, config }, later);
    expect(done.leftovers).toEqual(plan.leftovers);
    for (const gone of ['old-dep', 'rejected', 'failed-own']) {
      expect(await inStore(gone)).toBe(false);
      expect(await exists(blobPath(gone))).toBe(false);
    }
    for (const kept of ['shared', 'fresh-dep', 'staged']) expect(await inStore(kept)).toBe(true);
  });
});
