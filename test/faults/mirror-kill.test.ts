/**
 * A mirror sync SIGKILLed mid-way, for real: a child process syncs Production to a private Swift bucket and is
 * killed once a few files have landed; the next sync sends only what is still missing, the bucket then holds
 * exactly the view, and dnf installs from it with the signature verified. FAULTS_SCALE=n kills n times.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMirrorTargets } from '../../config/mirror-targets.ts';
import { createLogger } from '../../services/log.ts';
import { syncTarget } from '../../services/mirror/sync.ts';
import type { TargetSpec } from '../../services/mirror/target.ts';
import { mirrorView } from '../../services/mirror/view.ts';
import { startSigner, type Signer } from '../../services/signing/signer.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import { publishDistribution } from '../../services/storage/dist-publish.ts';
import { makeIndexEntries } from '../../services/storage/index-entries.ts';
import { useTestDb } from '../support/db.ts';
import { TEST_DATABASE_URL } from '../support/env.ts';
import { startPrivateSwift, type PrivateSwift } from '../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages } from '../support/packages.ts';
import { checkYumRepo } from '../support/repo-clients.ts';

const scale = Math.max(1, Number(process.env.FAULTS_SCALE ?? 1));
const root = path.resolve(import.meta.dirname, '../..');
const t = useTestDb();
let dir: string;
let storageDir: string;
let swift: PrivateSwift;
let signer: Signer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rd-mirror-kill-'));
  storageDir = path.join(dir, 'storage');
  const [built, sw] = await Promise.all([buildTestPackages(path.join(dir, 'pkgs'), 12), startPrivateSwift()]);
  swift = sw;
  const store = new BlobStore(storageDir);
  await store.init();
  const pkgs = await adoptTestPackages(store, built.rpms);
  const entries = await makeIndexEntries(storageDir, 'yum', pkgs, { tmpDir: path.join(storageDir, 'tmp'), timeoutMs: 60_000 });
  signer = await startSigner({ storageDir, keys: [] });
  await publishDistribution({ stage: 'production', kind: 'yum', platform: 'el9', arch: 'x86_64' }, entries, {
    storageDir,
    publicUrl: 'http://desk.invalid',
    signer,
  });
}, 180_000);
afterAll(async () => {
  await Promise.all([swift?.stop(), signer?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs a sync in a child and SIGKILLs it once `landed` files are recorded; otherwise says how the child ended
 * (its exit code, the end of what it printed to stderr).
 */
async function killMidway(target: TargetSpec, landed: number): Promise<string> {
  const child = spawn(
    process.execPath,
    [path.join(root, 'test/support/mirror-sync-child.ts'), JSON.stringify({ databaseUrl: TEST_DATABASE_URL, storageDir, target })],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (;;) {
    const n = Number((await t.db('mirror_objects').where({ target: target.name }).count('* as n').first())?.n ?? 0);
    if (n >= landed) {
      child.kill('SIGKILL');
      await exited;
      return 'killed';
    }
    if (child.exitCode !== null) return `ended with ${child.exitCode} after ${n} files: ${stderr}`;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function keys(bucket: string): Promise<string[]> {
  const s3 = new S3Client({
    endpoint: swift.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    s3.destroy();
  }
}

describe('a mirror sync killed by SIGKILL', () => {
  it('resumes without sending again what landed, and leaves the mirror exactly the view', async () => {
    const view = await mirrorView({ db: t.db, storageDir, stage: 'production' });
    for (let round = 0; round < scale; round++) {
      const bucket = `kill-${round}`;
      const [target] = parseMirrorTargets(`k${round}=${swift.targetUrl(bucket)};delete`);
      const landed = 3 + round;
      expect(await killMidway(target!, landed), 'the child was killed before it finished').toBe('killed');
      const recorded = Number((await t.db('mirror_objects').where({ target: target!.name }).count('* as n').first())?.n);
      const rest = await syncTarget(target!, { db: t.db, log: createLogger('silent'), storageDir });
      expect(rest.upload.files).toBeLessThanOrEqual(view.files.length - recorded);
      expect(await keys(bucket)).toEqual(view.files.map((f) => f.path).sort());
      expect((await syncTarget(target!, { db: t.db, log: createLogger('silent'), storageDir })).upload.files).toBe(0);
      const dnf = await checkYumRepo(`${swift.publicUrl(bucket)}/repos/dist/yum/el9/x86_64/production/`, 'testpkg', {
        GPGKEY: path.join(storageDir, 'keys', 'releasedesk.asc'),
      });
      expect(dnf.ok, dnf.output).toBe(true);
    }
  }, 300_000);
});
