import { lstat, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { distPaths, type DistRef } from '../../../services/storage/dist-ref.ts';
import { publishDistribution, type DistPublishResult } from '../../../services/storage/dist-publish.ts';
import { makeIndexEntries, type IndexEntry } from '../../../services/storage/index-entries.ts';
import type { RepoKind, RepoPackage } from '../../../services/storage/repo-ref.ts';
import { adoptTestPackages, buildTestPackages } from '../../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveStorage, type StaticServer } from '../../support/repo-clients.ts';

// Distribution repositories as the real dnf and apt read them: indexes concatenated from entries recorded
// once, pointing into one pool; every product of a stage in one signed repository.
let root: string;
let storageDir: string;
let server: StaticServer;
let signer: Signer;
let key: string;
const entries: Record<RepoKind, { a: IndexEntry[]; b: IndexEntry[] }> = {} as never;
const pkgs: Record<RepoKind, RepoPackage[]> = {} as never;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-dist-'));
  storageDir = join(root, 'storage');
  const [a, b] = await Promise.all([
    buildTestPackages(join(root, 'a'), 3),
    buildTestPackages(join(root, 'b'), 5, { core: false, fillPrefix: 'other', fillStart: 4 }),
  ]);
  const store = new BlobStore(storageDir);
  await store.init();
  const opts = { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 };
  for (const kind of ['yum', 'apt'] as const) {
    const [pa, pb] = await Promise.all([
      adoptTestPackages(store, kind === 'yum' ? a.rpms : a.debs),
      adoptTestPackages(store, kind === 'yum' ? b.rpms : b.debs),
    ]);
    pkgs[kind] = [...pa, ...pb];
    entries[kind] = { a: await makeIndexEntries(storageDir, kind, pa, opts), b: await makeIndexEntries(storageDir, kind, pb, opts) };
  }
  signer = await startSigner({ storageDir, keys: [] });
  key = join(storageDir, 'keys', 'releasedesk.asc');
  server = await serveStorage(storageDir);
}, 180_000);
afterAll(async () => {
  await server?.close();
  await signer?.stop();
  await rm(root, { recursive: true, force: true });
});

const yum = (stage: DistRef['stage'], arch = 'x86_64'): DistRef => ({ stage, kind: 'yum', platform: 'el9', arch });
const apt = (stage: DistRef['stage'], arch = 'x86_64'): DistRef => ({ stage, kind: 'apt', platform: 'debian12', arch });
const publish = (d: DistRef, list: IndexEntry[]) => publishDistribution(d, list, { storageDir, publicUrl: server.url, signer });
const dnf = (r: DistPublishResult, pkg: string, env: Record<string, string> = {}) => checkYumRepo(r.url, pkg, { GPGKEY: key, ...env });
const aptGet = (r: DistPublishResult, stage: string, pkg: string, env: Record<string, string> = {}) =>
  checkAptRepo(r.url, pkg, { KEY: key, SUITE: stage, ...env });

describe('index entries', () => {
  it('are made once per package by the real tools, one gzip member per part', () => {
    expect(entries.yum.a.map((e) => e.parts.length)).toEqual([3, 3, 3]);
    expect(entries.apt.a.map((e) => e.parts.length)).toEqual([1, 1, 1]);
    for (const e of [...entries.yum.a, ...entries.apt.a])
      for (const p of e.parts) expect(p.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  it('for the same bytes under two names are two entries, each with its own pool path (yum reads blobs in place)', async () => {
    const one = pkgs.yum[0]!;
    const twin = { sha256: one.sha256, filename: `twin-${one.filename}` };
    const made = await makeIndexEntries(storageDir, 'yum', [one, twin], { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 });
    const href = (e: IndexEntry) => /<location href="([^"]+)"/.exec(gunzipSync(e.parts[0]!).toString())?.[1];
    expect(made.map(href)).toEqual([
      `pool/${one.sha256.slice(0, 2)}/${one.sha256}/${one.filename}`,
      `pool/${one.sha256.slice(0, 2)}/${one.sha256}/${twin.filename}`,
    ]);
    expect(made[1]!.parts.slice(1)).toEqual(made[0]!.parts.slice(1));
    expect(await readdir(join(storageDir, 'tmp'))).toEqual([]); // its scratch (list and tool output) is gone
  });
});

describe('a YUM distribution', () => {
  it('holds two products in one signed repository that dnf reads, resolving across them', async () => {
    const r = await publish(yum('production'), [...entries.yum.a, ...entries.yum.b]);
    expect(r.url).toBe(`${server.url}/repos/dist/yum/el9/x86_64/production/`);
    expect(r.packages).toBe(8);
    const one = await dnf(r, 'testpkg-dep', { RESOLVE: '1' });
    expect(one.output).toContain('OK:');
    expect((await dnf(r, 'other-0004')).ok).toBe(true);
    const repofile = await (await fetch(r.clientFile.url)).text();
    expect(repofile).toContain('repo_gpgcheck=1');
    expect(repofile).toContain(`baseurl=${r.url}`);
  });

  it('is refused by dnf when repomd.xml was changed after signing', async () => {
    const r = await publish(yum('stage-rollout'), entries.yum.a);
    const live = join(distPaths(storageDir, yum('stage-rollout')).live, 'repodata', 'repomd.xml');
    await writeFile(live, (await readFile(live, 'utf8')).replace('<revision>', '<revision>9'));
    const res = await dnf(r, 'testpkg');
    expect(res.ok).toBe(false);
    expect(res.output).toContain('repomd.xml GPG signature verification error: Bad GPG signature');
  });

  it('a promotion writes index files only: the version holds repodata and a link to the pool, no package', async () => {
    const pool = join(storageDir, 'repos', 'dist', 'pool');
    const before = await countFiles(pool);
    const r = await publish(yum('unverified'), [...entries.yum.a, ...entries.yum.b]);
    expect(await countFiles(pool)).toBe(before);
    const version = (await readdir(join(distPaths(storageDir, yum('unverified')).versions, String(r.version)))).sort();
    expect(version).toEqual(['pool', 'releasedesk-el9-x86_64-unverified.repo', 'repodata']);
    expect((await lstat(join(distPaths(storageDir, yum('unverified')).live, 'pool'))).isSymbolicLink()).toBe(true);
  });

  it('an empty distribution is a valid, signed, empty repository', async () => {
    const r = await publish(yum('unverified', 'aarch64'), []);
    const res = await dnf(r, 'testpkg', { ARCH: 'aarch64' });
    expect(res.code).toBe(4); // metadata read and verified, nothing there
  });
});

describe('an APT distribution', () => {
  it('is a dists/<stage> suite of the platform archive that apt reads with the signature checked', async () => {
    const r = await publish(apt('production'), [...entries.apt.a, ...entries.apt.b]);
    expect(r.url).toBe(`${server.url}/repos/dist/apt/debian12/`);
    expect(r.label).toContain('production main (amd64)');
    expect((await aptGet(r, 'production', 'testpkg-dep', { RESOLVE: '1' })).output).toContain('OK:');
    expect((await aptGet(r, 'production', 'other-0008')).ok).toBe(true);
    const list = await (await fetch(r.clientFile.url)).text();
    expect(list).toContain(`deb [signed-by=/etc/apt/keyrings/releasedesk.asc] ${r.url} production main`);
    expect(list).not.toContain('trusted=yes');
  });

  it('builds the other arches of the suite from their entries when one arch is published, whatever is on this disk', async () => {
    await publish(apt('stage-rollout', 'x86_64'), entries.apt.b); // on disk now: another amd64 content
    const r = await publishDistribution(apt('stage-rollout', 'aarch64'), entries.apt.b, {
      storageDir,
      publicUrl: server.url,
      signer,
      otherArches: [{ arch: 'x86_64', entries: entries.apt.a }],
    });
    const release = await readFile(join(distPaths(storageDir, apt('stage-rollout')).live, 'Release'), 'utf8');
    expect(release).toMatch(/^Architectures: amd64 arm64$/m);
    expect((await aptGet(r, 'stage-rollout', 'testpkg')).ok).toBe(true);
    expect((await aptGet(r, 'stage-rollout', 'other-0004', { ARCH: 'arm64' })).ok).toBe(true);
    expect((await aptGet(r, 'stage-rollout', 'testpkg', { ARCH: 'arm64' })).code).toBe(4);
    expect((await aptGet(r, 'stage-rollout', 'other-0004')).code).toBe(4); // amd64 as recorded, not as it was on disk
  });

  it('is refused by apt when InRelease was changed after signing: BADSIG', async () => {
    const r = await publish(apt('unverified'), entries.apt.a);
    const live = join(distPaths(storageDir, apt('unverified')).live, 'InRelease');
    await writeFile(live, (await readFile(live, 'utf8')).replace('Suite: unverified', 'Suite: unverifiet'));
    const res = await aptGet(r, 'unverified', 'testpkg');
    expect(res.ok).toBe(false);
    expect(res.output).toContain('BADSIG');
  });
});

describe('the pool', () => {
  it('holds each package once, at a path unique to its content, shared by YUM and APT distributions', async () => {
    const files = await listFiles(join(storageDir, 'repos', 'dist', 'pool'));
    expect(files.length).toBe(pkgs.yum.length + pkgs.apt.length);
    for (const p of [...pkgs.yum, ...pkgs.apt]) {
      const at = join(storageDir, 'repos', 'dist', 'pool', p.sha256.slice(0, 2), p.sha256, p.filename);
      expect((await stat(at)).ino).toBe((await stat(new BlobStore(storageDir).path(p.sha256))).ino);
    }
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}
const countFiles = async (dir: string) => (await listFiles(dir)).length;
