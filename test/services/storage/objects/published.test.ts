/**
 * Published repositories in the object store (a real OpenStack Swift with s3api): what a worker publishes is
 * put there, and the real dnf and apt install from it, read straight from Swift or through the service, with
 * the signature checked. A repository built on another machine (its own STORAGE_DIR) replaces what the store
 * holds, and the store away leaves the old signed index in force.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutBucketAclCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../../../services/s3/client.ts';
import { startSigner, type Signer } from '../../../../services/signing/signer.ts';
import { BlobStore } from '../../../../services/storage/blobs.ts';
import type { DistRef } from '../../../../services/storage/dist-ref.ts';
import { publishDistribution } from '../../../../services/storage/dist-publish.ts';
import { makeIndexEntries, type IndexEntry } from '../../../../services/storage/index-entries.ts';
import { blobKey, forgetBlobs } from '../../../../services/storage/objects/blob-copies.ts';
import { backBlobsWith } from '../../../../services/storage/objects/open.ts';
import {
  distTree,
  productTree,
  publishedRow,
  replicate,
  replicateKeys,
  resignStored,
  type PublishedTree,
} from '../../../../services/storage/objects/published.ts';
import { publishedRepos, recordPublished } from '../../../../services/db/published.ts';
import { mirrorView } from '../../../../services/mirror/view.ts';
import { checkDrift } from '../../../../services/drift/check.ts';
import { S3ObjectStore } from '../../../../services/storage/objects/s3-store.ts';
import { publishRepository } from '../../../../services/storage/publish.ts';
import type { RepoPackage } from '../../../../services/storage/repo-ref.ts';
import { startApp } from '../../../support/app.ts';
import { useTestDb } from '../../../support/db.ts';
import { fails } from '../../../support/errors.ts';
import { startPrivateSwift, type PrivateSwift } from '../../../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages } from '../../../support/packages.ts';
import { makeTestKey } from '../../../support/signing-keys.ts';
import { checkAptRepo, checkYumRepo } from '../../../support/repo-clients.ts';

const t = useTestDb();
let root: string;
let swift: PrivateSwift;
let store: S3ObjectStore;
/** two worker machines: each its own STORAGE_DIR, one store */
const machines: Array<{ storageDir: string; signer: Signer }> = [];
const rpms: { a: RepoPackage[]; b: RepoPackage[] } = { a: [], b: [] };
const entries: Record<'yum' | 'apt', { a: IndexEntry[]; b: IndexEntry[] }> = { yum: { a: [], b: [] }, apt: { a: [], b: [] } };
const BUCKET = 'rd-published';
let location: ConstructorParameters<typeof S3ObjectStore>[0];
let built: Awaited<ReturnType<typeof buildTestPackages>>;
const product = { stage: 'production', product: 'TP.tool.el9.x86_64', kind: 'yum' } as const;
const yum: DistRef = { stage: 'production', kind: 'yum', platform: 'el9', arch: 'x86_64' };
const apt = (arch: string): DistRef => ({ stage: 'production', kind: 'apt', platform: 'debian12', arch });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-published-'));
  const [, a, b] = await Promise.all([
    startPrivateSwift().then((s) => (swift = s)),
    buildTestPackages(join(root, 'a'), 3),
    buildTestPackages(join(root, 'b'), 3, { core: false, fillPrefix: 'other', fillStart: 4 }),
  ]);
  const at = {
    endpoint: swift.endpoint,
    region: 'us-east-1',
    bucket: BUCKET,
    prefix: '',
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
  };
  // sites read this bucket straight (BLOB_STORE ;public): each repository holds its package objects
  store = new S3ObjectStore(at, { sitesRead: true });
  location = at;
  built = a;
  // one key for the desk: every worker machine is configured with the same SIGNING_KEY_FILES
  const deskKey = await makeTestKey(join(root, 'keys'), 'desk');
  keyFile = deskKey.public;
  for (const name of ['one', 'two']) {
    const storageDir = join(root, name);
    backBlobsWith(storageDir, store);
    await new BlobStore(storageDir).init();
    machines.push({ storageDir, signer: await startSigner({ storageDir, keys: [{ file: deskKey.secret }] }) });
  }
  const one = machines[0]!.storageDir;
  const blobs = new BlobStore(one);
  const opts = { tmpDir: join(one, 'tmp'), timeoutMs: 60_000 };
  rpms.a = await adoptTestPackages(blobs, a.rpms);
  rpms.b = await adoptTestPackages(blobs, b.rpms);
  const debs = { a: await adoptTestPackages(blobs, a.debs), b: await adoptTestPackages(blobs, b.debs) };
  entries.yum = { a: await makeIndexEntries(one, 'yum', rpms.a, opts), b: await makeIndexEntries(one, 'yum', rpms.b, opts) };
  entries.apt = { a: await makeIndexEntries(one, 'apt', debs.a, opts), b: await makeIndexEntries(one, 'apt', debs.b, opts) };
  // sites read the bucket over Swift's own HTTP API: the operator makes it readable by anyone
  await s3Client(at, { connectMs: 5_000, idleMs: 30_000 }).send(new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'public-read' }));
}, 240_000);
afterAll(async () => {
  for (const m of machines) {
    backBlobsWith(m.storageDir, null);
    await m.signer.stop();
  }
  await store?.close();
  await swift?.stop();
  await rm(root, { recursive: true, force: true });
});

const PUBLIC = 'http://desk.invalid';
let keyFile: string;
const key = () => keyFile;
/** the product repository's path below PUBLIC_URL and the store's root */
const productPath = productTree(product, '').path;

/** One machine publishes Production's product repository and both distributions and puts them in the store. */
async function publishOn(m: (typeof machines)[number], set: 'a' | 'ab', aptArches: string[] = ['x86_64']) {
  const pick = (k: 'yum' | 'apt') => (set === 'a' ? entries[k].a : [...entries[k].a, ...entries[k].b]);
  const opts = { storageDir: m.storageDir, publicUrl: PUBLIC, signer: m.signer };
  // as the worker's publication does (workers/steps/views.ts): put in the store, then recorded
  const put = async (tree: PublishedTree) => {
    const r = await replicate(store, m.storageDir, tree);
    await recordPublished(t.db, publishedRow(tree, r.files));
    return r;
  };
  const repo = await publishRepository(product, set === 'a' ? rpms.a : [...rpms.a, ...rpms.b], { ...opts, recorded: pick('yum') });
  const reports = [await put(productTree(product, repo.dir))];
  const dist = await publishDistribution(yum, pick('yum'), opts);
  reports.push(await put(distTree(yum, dist.dir)));
  const [first, ...others] = aptArches;
  const suite = await publishDistribution(apt(first!), pick('apt'), {
    ...opts,
    otherArches: others.map((arch) => ({ arch, entries: pick('apt') })),
  });
  reports.push(await put(distTree(apt(first!), suite.dir)));
  return reports;
}

describe('published repositories in the object store', () => {
  it('are put there, packages copied inside the store; dnf and apt install from Swift directly and through the service', async () => {
    const [repo, dist, suite] = await publishOn(machines[0]!, 'a');
    expect(repo!.copied).toBe(3);
    expect(dist!.copied).toBe(3);
    expect(suite!.copied).toBe(3);
    await replicateKeys(store, join(machines[0]!.storageDir, 'keys'));
    const direct = swift.publicUrl(BUCKET);
    const dnf = await checkYumRepo(`${direct}/repos/dist/yum/el9/x86_64/production/`, 'testpkg-dep', {
      GPGKEY: `${direct}/keys/releasedesk.asc`,
      RESOLVE: '1',
    });
    expect(dnf.output).toContain('OK:');
    expect((await checkAptRepo(`${direct}/repos/dist/apt/debian12/`, 'testpkg', { KEY: key(), SUITE: 'production' })).ok).toBe(true);

    // an API process on a machine that built nothing serves what the store holds
    const app = await startApp(t.db, { storageDir: join(root, 'api-machine'), objects: store });
    try {
      const viaDesk = await checkYumRepo(`${app.url}/${productPath}/`, 'testpkg', { GPGKEY: key() });
      expect(viaDesk.output).toContain('OK:');
      const apt = await checkAptRepo(`${app.url}/repos/dist/apt/debian12/`, 'testpkg', { KEY: key(), SUITE: 'production' });
      expect(apt.ok).toBe(true);
      expect((await fetch(`${app.url}/repos/dist/yum/el9/x86_64/production/repodata/nothing.xml`)).status).toBe(404);
      // apt asks a flat repository for ./Release, as sent (fetch would resolve the dot itself)
      expect(await rawStatus(app.url, '/repos/dist/apt/debian12/dists/production/./Release')).toBe(200);
      expect(await rawStatus(app.url, '/repos/dist/apt/debian12/../../../blobs/x')).toBe(404);
    } finally {
      await app.close();
    }
  }, 240_000);

  it('takes what another machine publishes next: new packages copied, files the new version no longer names removed', async () => {
    await publishOn(machines[0]!, 'a');
    const [repo] = await publishOn(machines[1]!, 'ab', ['x86_64', 'aarch64']); // this machine never published before
    expect(repo!.copied).toBe(3);
    expect(repo!.removed).toBeGreaterThan(0); // the earlier version's repodata
    const direct = swift.publicUrl(BUCKET);
    expect((await checkYumRepo(`${direct}/${productPath}/`, 'other-0004', { GPGKEY: key() })).output).toContain('OK:');
    const arm = await checkAptRepo(`${direct}/repos/dist/apt/debian12/`, 'other-0004', { KEY: key(), SUITE: 'production', ARCH: 'arm64' });
    expect(arm.ok).toBe(true);

    await publishOn(machines[0]!, 'a');
    const gone = await checkYumRepo(`${direct}/${productPath}/`, 'other-0004', { GPGKEY: key() });
    expect(gone.ok).toBe(false);
    const keys = (await store.list(`${productPath}/pool/`)).map((o) => o.key);
    expect(keys.length).toBe(3); // b's packages went with the version that named them
  }, 240_000);

  it("a purged blob's copies in an APT archive's pool go with it (no publication deletes from that shared pool)", async () => {
    await publishOn(machines[1]!, 'ab');
    await publishOn(machines[0]!, 'a'); // b's debs leave the suite, their pool copies stay for the other stages
    const gone = entries.apt.b[0]!;
    const copies = async () => (await store.list('repos/dist/apt/debian12/pool/')).filter((o) => o.key.includes(gone.sha256));
    expect((await copies()).length).toBe(1);
    await forgetBlobs(store, [gone.sha256]);
    expect(await copies()).toEqual([]);
    expect(await store.head(blobKey(gone.sha256))).toBeNull();
    expect((await store.list('repos/dist/apt/debian12/pool/')).length).toBeGreaterThanOrEqual(3); // a's stay
  }, 240_000);

  it('with the store away, fails as unavailable and the store keeps the last signed index, whole; the retry puts the rest', async () => {
    await publishOn(machines[0]!, 'a');
    const m = machines[0]!;
    const repo = await publishRepository(product, [...rpms.a, ...rpms.b], {
      storageDir: m.storageDir,
      publicUrl: PUBLIC,
      signer: m.signer,
      recorded: [...entries.yum.a, ...entries.yum.b],
    });
    await swift.stopProxy();
    try {
      await fails(replicate(store, m.storageDir, productTree(product, repo.dir)), 'RD_STORE_UNAVAILABLE');
    } finally {
      await swift.startProxy();
    }
    const direct = `${swift.publicUrl(BUCKET)}/${productPath}/`;
    expect((await checkYumRepo(direct, 'testpkg', { GPGKEY: key() })).output).toContain('OK:');
    await replicate(store, m.storageDir, productTree(product, repo.dir));
    expect((await checkYumRepo(direct, 'other-0004', { GPGKEY: key() })).output).toContain('OK:');
  }, 240_000);
});

/** The status of a GET whose path goes out exactly as given. */
function rawStatus(base: string, path: string): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    get({ host: u.hostname, port: u.port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('a store sites do not read (the default): they read through the service', () => {
  it('holds each package once, as its blob; the service serves every pool path from it, dnf and apt install', async () => {
    const privateStore = new S3ObjectStore({ ...location, prefix: 'desk-private' });
    const storageDir = join(root, 'three');
    backBlobsWith(storageDir, privateStore);
    const app = await startApp(t.db, { storageDir: join(root, 'api-three'), objects: privateStore });
    try {
      const blobs = new BlobStore(storageDir);
      await blobs.init();
      const pkgs = await adoptTestPackages(blobs, built.rpms);
      const debs = await adoptTestPackages(blobs, built.debs);
      const opts = { storageDir, publicUrl: PUBLIC, signer: machines[0]!.signer };
      const repo = await publishRepository(product, pkgs, { ...opts, recorded: entries.yum.a });
      const first = await replicate(privateStore, storageDir, productTree(product, repo.dir));
      const suite = await publishDistribution(apt('x86_64'), entries.apt.a, opts);
      await replicate(privateStore, storageDir, distTree(apt('x86_64'), suite.dir));
      expect(first.copied).toBe(0);
      expect((await privateStore.list('repos/')).filter((o) => o.key.includes('/pool/'))).toEqual([]);
      expect((await privateStore.list('blobs/')).length).toBe(pkgs.length + debs.length);
      expect((await checkYumRepo(`${app.url}/${productPath}/`, 'testpkg-dep', { GPGKEY: key(), RESOLVE: '1' })).output).toContain('OK:');
      expect((await checkAptRepo(`${app.url}/repos/dist/apt/debian12/`, 'testpkg', { KEY: key(), SUITE: 'production' })).ok).toBe(true);
    } finally {
      await app.close();
      backBlobsWith(storageDir, null);
      await privateStore.close();
    }
  }, 240_000);
});

describe('what reads the live repositories, with workers on several machines', () => {
  it('a mirror view from a machine whose disk is behind shows what the store holds', async () => {
    await publishOn(machines[0]!, 'a');
    await publishOn(machines[1]!, 'ab');
    const behind = await mirrorView({ db: t.db, storageDir: machines[0]!.storageDir, stage: 'production' });
    const packages = behind.files.filter((f) => f.phase === 'package').map((f) => f.path);
    expect(packages.some((p) => p.startsWith(`${productPath}/pool/`) && p.endsWith(rpms.b[0]!.filename))).toBe(true);
    expect(behind.repositories.every((r) => r.version.startsWith('store:'))).toBe(true);
    const index = behind.files.find((f) => f.path === `${productPath}/repodata/repomd.xml`)!;
    expect('bytes' in index.source).toBe(true); // read from the store, not from this machine's older version
    const again = await mirrorView({ db: t.db, storageDir: machines[1]!.storageDir, stage: 'production' });
    expect(again.fingerprint).toBe(behind.fingerprint); // one truth, whichever machine looks
  }, 240_000);

  it("a drift check names a file changed in the store behind releasedesk's back", async () => {
    await publishOn(machines[0]!, 'a');
    const [row] = (await publishedRepos(t.db, 'production')).filter((r) => r.path === productPath);
    const primary = row!.files.find((f) => f.name.endsWith('primary.xml.gz'))!;
    const tampered = join(root, 'tampered.gz');
    await writeFile(tampered, gzipSync('<metadata packages="0"></metadata>'));
    await store.put(`${productPath}/${primary.name}`, tampered, { sha256: 'f'.repeat(64), size: (await stat(tampered)).size });
    const report = await checkDrift({ db: t.db, config: { STORAGE_DIR: machines[1]!.storageDir, MIRROR_TARGETS: [] } });
    expect(report.items).toContainEqual(expect.objectContaining({ kind: 'file-changed', where: `${productPath}/${primary.name}` }));
  }, 240_000);

  it('a key rotation signs what the store holds again, whichever machine published it', async () => {
    await publishOn(machines[1]!, 'a');
    const next = await makeTestKey(join(root, 'keys'), 'next');
    const signer = await startSigner({ storageDir: join(root, 'rotating'), keys: [{ file: next.secret }] });
    try {
      const [row] = (await publishedRepos(t.db, 'production')).filter((r) => r.path === productPath);
      const scratch = join(root, 'scratch');
      await mkdir(scratch, { recursive: true });
      const signed = await resignStored(store, machines[0]!.storageDir, row!, signer, scratch);
      expect(signed.stamp).not.toBe(row!.stamp);
      const url = `${swift.publicUrl(BUCKET)}/${productPath}/`;
      expect((await checkYumRepo(url, 'testpkg', { GPGKEY: next.public })).output).toContain('OK:');
      expect((await checkYumRepo(url, 'testpkg', { GPGKEY: key() })).ok).toBe(false);
    } finally {
      await signer.stop();
    }
  }, 240_000);
});
