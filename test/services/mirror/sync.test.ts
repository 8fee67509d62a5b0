import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownObjects, mirrorTargetRow } from '../../../services/db/mirrors.ts';
import { createLogger } from '../../../services/log.ts';
import type { Upload } from '../../../services/mirror/plan.ts';
import { syncTarget } from '../../../services/mirror/sync.ts';
import type { MirrorTarget, TargetSpec } from '../../../services/mirror/target.ts';
import { mirrorView } from '../../../services/mirror/view.ts';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { BlobStore, sha256File } from '../../../services/storage/blobs.ts';
import { publishDistribution } from '../../../services/storage/dist-publish.ts';
import type { DistRef } from '../../../services/storage/dist-ref.ts';
import { makeIndexEntries, type IndexEntry } from '../../../services/storage/index-entries.ts';
import { pushBlobs } from '../../../services/storage/objects/blob-copies.ts';
import { backBlobsWith } from '../../../services/storage/objects/open.ts';
import { S3ObjectStore } from '../../../services/storage/objects/s3-store.ts';
import { publishRepository } from '../../../services/storage/publish.ts';
import type { RepoKind, RepoPackage } from '../../../services/storage/repo-ref.ts';
import { parseMirrorTargets } from '../../../config/mirror-targets.ts';
import { useTestDb } from '../../support/db.ts';
import { startPrivateRsyncd, startPrivateSwift, type PrivateRsyncd, type PrivateSwift } from '../../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages } from '../../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveDirectory, type StaticServer } from '../../support/repo-clients.ts';

// Production mirrored to the real servers a site would use: a Swift bucket through its S3 API, and an rsync
// daemon's module served over HTTP; then the real dnf and apt install from the mirror, signature checked.
let root: string;
let storageDir: string;
let signer: Signer;
let key: string;
let swift: PrivateSwift;
let rsyncd: PrivateRsyncd;
let rsyncWeb: StaticServer;
const t = useTestDb();
const log = createLogger('silent');
const entries: Record<RepoKind, { a: IndexEntry[]; b: IndexEntry[] }> = {} as never;
const pkgs: Record<RepoKind, { a: RepoPackage[]; b: RepoPackage[] }> = {} as never;

const yum: DistRef = { stage: 'production', kind: 'yum', platform: 'el9', arch: 'x86_64' };
const apt: DistRef = { stage: 'production', kind: 'apt', platform: 'debian12', arch: 'x86_64' };
const product = { stage: 'production' as const, product: 'EXAMPLE.testpkg', kind: 'yum' as const };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-mirror-'));
  storageDir = join(root, 'storage');
  const [built, [sw, rs]] = await Promise.all([
    Promise.all([
      buildTestPackages(join(root, 'a'), 3),
      buildTestPackages(join(root, 'b'), 2, { core: false, fillPrefix: 'other', fillStart: 4 }),
    ]),
    Promise.all([startPrivateSwift(), startPrivateRsyncd()]),
  ]);
  swift = sw;
  rsyncd = rs;
  rsyncWeb = await serveDirectory(rsyncd.root, '');
  const [a, b] = built;
  const store = new BlobStore(storageDir);
  await store.init();
  const opts = { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 };
  for (const kind of ['yum', 'apt'] as const) {
    const [pa, pb] = await Promise.all([
      adoptTestPackages(store, kind === 'yum' ? a.rpms : a.debs),
      adoptTestPackages(store, kind === 'yum' ? b.rpms : b.debs),
    ]);
    pkgs[kind] = { a: pa, b: pb };
    entries[kind] = { a: await makeIndexEntries(storageDir, kind, pa, opts), b: await makeIndexEntries(storageDir, kind, pb, opts) };
  }
  signer = await startSigner({ storageDir, keys: [] });
  key = join(storageDir, 'keys', 'releasedesk.asc');
}, 180_000);
afterAll(async () => {
  await rsyncWeb?.close();
  await Promise.all([swift?.stop(), rsyncd?.destroy(), signer?.stop()]);
  await rm(root, { recursive: true, force: true });
});

/** Production as a release desk holds it: `set` a only, or a and b. */
async function publishProduction(set: 'a' | 'ab') {
  const pick = (k: RepoKind) => (set === 'a' ? entries[k].a : [...entries[k].a, ...entries[k].b]);
  const opts = { storageDir, publicUrl: 'http://desk.invalid', signer };
  await publishDistribution(yum, pick('yum'), opts);
  await publishDistribution(apt, pick('apt'), opts);
  await publishRepository(product, set === 'a' ? pkgs.yum.a : [...pkgs.yum.a, ...pkgs.yum.b], { ...opts, recorded: pick('yum') });
}

let n = 0;
function targets(): { s3: TargetSpec; rsync: TargetSpec } {
  n++;
  const bucket = `mirror-${n}`;
  const config = parseMirrorTargets(
    `s3=${swift.targetUrl(bucket, 'umd')};delete;public=${swift.publicUrl(bucket)}/umd, rsync=${rsyncd.url}/run${n};delete;public=${rsyncWeb.url}/run${n}`,
  );
  return { s3: config[0]!, rsync: config[1]! };
}

const sync = (target: TargetSpec, dryRun = false) => syncTarget(target, { db: t.db, log, storageDir }, { dryRun });

describe('a first sync', () => {
  it('plans in a dry run without changing the target, then puts packages, indexes and signed files; dnf and apt install from the mirror', async () => {
    await publishProduction('a');
    const { s3, rsync } = targets();
    const plan = await sync(s3, true);
    expect(plan.dryRun).toBe(true);
    // 3 rpms in the distribution and in the product repository + 3 debs; the same bytes twice are sent once
    // and copied by the store: the rpms, and repodata the two YUM repositories share
    expect(plan.upload.byPhase.package).toBe(9);
    expect(plan.upload.copies).toBeGreaterThanOrEqual(3);
    expect(plan.upload.byPhase.signed).toBeGreaterThanOrEqual(7); // 2 repomd + 2 .asc + Release, Release.gpg, InRelease
    expect(plan.delete.files).toBe(0);
    expect((await sync(s3, true)).upload.files).toBe(plan.upload.files); // the dry run changed nothing
    expect(await mirrorTargetRow(t.db, 's3')).toBeUndefined();

    const done = await sync(s3);
    expect(done.upload.files).toBe(plan.upload.files);
    expect((await knownObjects(t.db, 's3')).length).toBe(done.files);
    const again = await sync(s3);
    expect(again.upload.files).toBe(0);
    expect(again.unchanged).toBe(done.files);

    const yumUrl = `${swift.publicUrl(`mirror-${n}`)}/umd/repos/dist/yum/el9/x86_64/production/`;
    const dnf = await checkYumRepo(yumUrl, 'testpkg-dep', { GPGKEY: key, RESOLVE: '1' });
    expect(dnf.output).toContain('OK:');
    const repofile = await (await fetch(`${yumUrl}releasedesk-el9-x86_64-production.repo`)).text();
    expect(repofile).toContain(`baseurl=${yumUrl}`); // written for the mirror, not the desk

    await sync(rsync);
    const aptUrl = `${rsyncWeb.url}/run${n}/repos/dist/apt/debian12/`;
    const aptCheck = await checkAptRepo(aptUrl, 'testpkg', { KEY: key, SUITE: 'production' });
    expect(aptCheck.output).toContain('OK');
    expect(aptCheck.ok).toBe(true);
    expect((await sync(rsync)).upload.files).toBe(0);
  }, 240_000);
});

describe('an incremental sync', () => {
  it('sends only the new release and the indexes; a withdrawal takes the package out of the index and deletes the orphan', async () => {
    await publishProduction('a');
    const { s3, rsync } = targets();
    await sync(s3);
    await sync(rsync);
    await publishProduction('ab');
    for (const target of [s3, rsync]) {
      const r = await sync(target);
      expect(r.upload.byPhase.package).toBe(6); // 2 rpms twice (one a copy) + 2 debs
      expect(r.upload.copies).toBeGreaterThanOrEqual(2);
    }
    const yumUrl = `${rsyncWeb.url}/run${n}/repos/dist/yum/el9/x86_64/production/`;
    expect((await checkYumRepo(yumUrl, 'other-0004', { GPGKEY: key })).ok).toBe(true);

    await publishProduction('a'); // the b release deprecated
    for (const target of [s3, rsync]) {
      const r = await sync(target);
      expect(r.upload.byPhase.package).toBe(0);
      expect(r.delete.files).toBeGreaterThanOrEqual(6);
    }
    expect((await checkYumRepo(yumUrl, 'other-0004', { GPGKEY: key })).code).toBe(4);
    const gone = pkgs.yum.b[0]!;
    await expect(
      stat(join(rsyncd.root, `run${n}`, 'repos/dist/yum/el9/x86_64/production/pool', gone.sha256.slice(0, 2), gone.sha256, gone.filename)),
    ).rejects.toThrow();
  }, 240_000);

  it('keeps orphans on a target without ;delete', async () => {
    await publishProduction('ab');
    const { rsync } = targets();
    const keep = { ...rsync, deleteOrphans: false };
    await sync(keep);
    await publishProduction('a');
    const r = await sync(keep);
    expect(r.delete).toEqual({ files: 0, bytes: 0, enabled: false });
    const kept = pkgs.apt.b[0]!;
    await stat(join(rsyncd.root, `run${n}`, 'repos/dist/apt/debian12/pool', kept.sha256.slice(0, 2), kept.sha256, kept.filename));
  }, 120_000);
});

describe('a sync cut short', () => {
  it('resumes without sending again what landed', async () => {
    await publishProduction('ab');
    const { s3 } = targets();
    const full = await sync(s3, true);
    let landed = 0;
    const cut = (inner: MirrorTarget): MirrorTarget => ({
      ...inner,
      list: () => inner.list(),
      remove: (p) => inner.remove(p),
      close: () => inner.close(),
      put: (files: Upload[], done) =>
        inner.put(files, async (path, tag) => {
          await done(path, tag);
          if (++landed === 5) throw new Error('killed');
        }),
    });
    await expect(syncTarget(s3, { db: t.db, log, storageDir }, { wrapTarget: cut })).rejects.toThrow('killed');
    const rest = await sync(s3);
    expect(rest.upload.files).toBeLessThanOrEqual(full.upload.files - 5);
    expect(rest.unchanged).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

describe('a target away, then back', () => {
  it('fails as RD_MIRROR_UNAVAILABLE and succeeds once it is back', async () => {
    await publishProduction('a');
    const { s3 } = targets();
    await swift.stopProxy();
    try {
      await expect(sync(s3)).rejects.toMatchObject({ code: 'RD_MIRROR_UNAVAILABLE' });
    } finally {
      await swift.startProxy();
    }
    expect((await sync(s3)).upload.files).toBeGreaterThan(0);
  }, 120_000);
});

describe('a file changed on the target behind releasedesk', () => {
  it('is named and put back', async () => {
    await publishProduction('a');
    const { s3 } = targets();
    await sync(s3);
    const view = await mirrorView({ db: t.db, storageDir, stage: 'production' });
    const repomd = view.files.find((f) => f.path.endsWith('yum/el9/x86_64/production/repodata/repomd.xml'))!;
    const client = new S3Client({
      endpoint: swift.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    await client.send(new PutObjectCommand({ Bucket: `mirror-${n}`, Key: `umd/${repomd.path}`, Body: 'tampered' }));
    client.destroy();
    const r = await sync(s3);
    expect(r.changedOnTarget).toEqual([repomd.path]);
    const back = await (await fetch(`${swift.publicUrl(`mirror-${n}`)}/umd/${repomd.path}`)).text();
    expect(back).toBe(await readFile((repomd.source as { file: string }).file, 'utf8'));
  }, 120_000);
});

describe('a worker whose STORAGE_DIR lacks a package (another worker fetched it)', () => {
  it('gets its blob from the object store behind the blobs (BLOB_STORE) and sends it', async () => {
    await publishProduction('a');
    const { s3, rsync } = targets();
    const at = { endpoint: swift.endpoint, region: 'us-east-1', prefix: '', accessKeyId: swift.accessKeyId };
    const objects = new S3ObjectStore({ ...at, bucket: `rd-blobs-${n}`, secretAccessKey: swift.secretAccessKey });
    const blobs = new BlobStore(storageDir, objects);
    await pushBlobs(
      objects,
      [...pkgs.yum.a, ...pkgs.apt.a].map((p) => p.sha256),
      (sha) => blobs.path(sha),
    );
    const lacking = [pkgs.yum.a[0]!, pkgs.apt.a[0]!];
    backBlobsWith(storageDir, objects);
    try {
      for (const target of [s3, rsync]) {
        for (const p of lacking) await rm(blobs.path(p.sha256), { force: true });
        expect((await sync(target)).upload.byPhase.package).toBe(9);
      }
    } finally {
      backBlobsWith(storageDir, null);
      await objects.close();
    }
    const view = await mirrorView({ db: t.db, storageDir, stage: 'production' });
    for (const p of lacking) {
      expect(await blobs.has(p.sha256)).toBe(true);
      const paths = view.files.filter((f) => f.sha256 === p.sha256).map((f) => f.path);
      expect(paths.length).toBeGreaterThan(0);
      for (const path of paths) {
        const onS3 = await fetch(`${swift.publicUrl(`mirror-${n}`)}/umd/${path}`);
        expect(sha(Buffer.from(await onS3.arrayBuffer()))).toBe(p.sha256);
        expect((await sha256File(join(rsyncd.root, `run${n}`, path))).sha256).toBe(p.sha256);
      }
    }
  }, 120_000);
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
