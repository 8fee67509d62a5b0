import { chmod, cp, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { poolHref } from '../../../services/storage/dist-ref.ts';
import { publishRepository, type PublishOptions } from '../../../services/storage/publish.ts';
import type { RepoPackage, RepoRef, Stage } from '../../../services/storage/repo-ref.ts';
import { publicKeysDir, startSigner, type Signer } from '../../../services/signing/signer.ts';
import { adoptTestPackages, buildTestPackages, type TestPackages } from '../../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveStorage, type StaticServer } from '../../support/repo-clients.ts';

// Published repositories as dnf and apt-get see them over HTTP: publish, republish, withdraw, promote.
// Every check verifies the repository's signature with the key served at /keys/releasedesk.asc.
let root: string;
let signer: Signer;
let storageDir: string;
let server: StaticServer;
let pk: TestPackages; // testpkg, testpkg-dep, testpkg-broken, testfill-0004..0100
let extra: TestPackages; // extra-0001: "one more package"
let rpms: RepoPackage[];
let debs: RepoPackage[];
let opts: PublishOptions;

const yum = (stage: Stage = 'unverified'): RepoRef => ({ stage, product: 'EXAMPLETP.testpkg.el9.noarch', kind: 'yum' });
const apt = (stage: Stage = 'unverified'): RepoRef => ({ stage, product: 'EXAMPLETP.testpkg.debian12.all', kind: 'apt' });
const core = (list: RepoPackage[]) => list.filter((p) => p.filename.startsWith('testpkg'));
const timings: Record<string, number> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-publish-'));
  storageDir = join(root, 'storage');
  [pk, extra] = await Promise.all([
    buildTestPackages(join(root, 'pkgs'), 100),
    buildTestPackages(join(root, 'extra'), 1, { core: false, fillPrefix: 'extra', fillStart: 1 }),
  ]);
  const store = new BlobStore(storageDir);
  await store.init();
  rpms = await adoptTestPackages(store, [...pk.rpms, ...extra.rpms]);
  debs = await adoptTestPackages(store, [...pk.debs, ...extra.debs]);
  signer = await startSigner({ storageDir, keys: [] }); // the default key, generated here
  server = await serveStorage(storageDir);
  opts = { storageDir, publicUrl: server.url, signer };
});
afterAll(async () => {
  await server?.close();
  await signer?.stop();
  console.info('publish timings (ms):', timings);
  await rm(root, { recursive: true, force: true });
});

const extraRpm = () => rpms.find((p) => p.filename.startsWith('extra-0001'))!;
const extraDeb = () => debs.find((p) => p.filename.startsWith('extra-0001'))!;
const versionsOf = async (repo: RepoRef) => (await readdir(join(storageDir, 'repos', '.versions', repo.stage, repo.product))).sort();

describe('YUM', () => {
  it('publishes a repository dnf reads over HTTP, with a .repo client file', async () => {
    const r = await publishRepository(yum(), core(rpms), opts);
    expect(r).toMatchObject({
      url: `${server.url}/repos/unverified/EXAMPLETP.testpkg.el9.noarch/`,
      version: 1,
      previousVersion: null,
      packages: 3,
      packagesRead: 3,
      clientFile: {
        name: 'EXAMPLETP.testpkg.el9.noarch.repo',
        url: `${server.url}/repos/unverified/EXAMPLETP.testpkg.el9.noarch/EXAMPLETP.testpkg.el9.noarch.repo`,
      },
    });
    expect(await readlink(join(storageDir, 'repos', 'unverified', yum().product))).toBe(
      '../.versions/unverified/EXAMPLETP.testpkg.el9.noarch/1',
    );
    const check = await checkYumRepo(r.url, 'testpkg-dep', { RESOLVE: '1' });
    expect(check.output).toMatch(/^OK: dnf sees testpkg-dep-1.0.0-1.noarch/m);
    expect(check.ok).toBe(true);
    expect(check.output).toContain('[repomd.xml signature verified]');
    expect((await stat(join(r.dir, 'repodata', 'repomd.xml.asc'))).isFile()).toBe(true);
  });

  it('its .repo client file, used as served, makes dnf check the signature with the served key', async () => {
    const r = await publishRepository(yum(), core(rpms), opts);
    const repoFile = await (await fetch(r.clientFile.url)).text();
    const lines = repoFile.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      '[EXAMPLETP.testpkg.el9.noarch-unverified]',
      'name=EXAMPLETP.testpkg.el9.noarch (unverified)',
      `baseurl=${r.url}`,
      'enabled=1',
      'repo_gpgcheck=1',
      'gpgcheck=0',
      `gpgkey=${server.url}/keys/releasedesk.asc`,
    ]);
    const file = join(root, r.clientFile.name);
    await writeFile(file, repoFile);
    const check = await checkYumRepo(r.url, 'testpkg', { REPOFILE: file });
    expect(check.output).toMatch(/^OK: dnf sees testpkg-1.0.0-1.noarch/m);
  });

  it('republishes with one more package: dnf sees old and new, only the new one is read', async () => {
    const recorded = (await publishRepository(yum('stage-rollout'), core(rpms), opts)).made;
    const r = await publishRepository(yum(), [...core(rpms), extraRpm()], { ...opts, recorded });
    expect(r).toMatchObject({ version: 3, previousVersion: 2, packages: 4, packagesRead: 1 });
    timings['yum republish 3+1'] = r.durationMs;
    expect((await checkYumRepo(r.url, 'extra-0001')).ok).toBe(true);
    expect((await checkYumRepo(r.url, 'testpkg')).ok).toBe(true);
  });

  it('republishes empty: the index stays valid and lists nothing; older versions are pruned', async () => {
    const r = await publishRepository(yum(), [], opts);
    expect(r).toMatchObject({ version: 4, packages: 0 });
    const check = await checkYumRepo(r.url, 'testpkg');
    expect(check.code).toBe(4); // metadata read fine (1 would mean unreadable), package not there
    expect(await versionsOf(yum())).toEqual(['3', '4']);
  });
});

describe('APT', () => {
  it('publishes a flat repository apt-get reads over HTTP, with a .list client file', async () => {
    const r = await publishRepository(apt(), core(debs), opts);
    expect(r).toMatchObject({ version: 1, packages: 3, packagesRead: 3, clientFile: { name: 'EXAMPLETP.testpkg.debian12.all.list' } });
    const check = await checkAptRepo(r.url, 'testpkg-dep', { RESOLVE: '1' });
    expect(check.output).toMatch(/^OK: apt sees testpkg-dep 1.0.0-1/m);
    expect(check.output).toContain('[InRelease/Release.gpg signature verified]');
    const list = await (await fetch(r.clientFile.url)).text();
    expect(list.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      `deb [signed-by=/etc/apt/keyrings/releasedesk.asc] ${r.url} ./`,
    ]);
    expect(list).toContain(`curl -fsSLo /etc/apt/keyrings/releasedesk.asc ${server.url}/keys/releasedesk.asc`);
    const inRelease = await readFile(join(r.dir, 'InRelease'), 'utf8');
    expect(inRelease).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n/);
    expect(await readFile(join(r.dir, 'Release.gpg'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    const release = await readFile(join(r.dir, 'Release'), 'utf8');
    expect(release).toMatch(/^Origin: releasedesk$/m);
    expect(release).toMatch(/^Suite: unverified$/m);
    expect(release).toMatch(/^Label: EXAMPLETP.testpkg.debian12.all$/m);
    expect(release).not.toMatch(/ Release$/m); // Release never lists itself
  });

  it('republishes with one more package, then empty', async () => {
    const r = await publishRepository(apt(), [...core(debs), extraDeb()], opts);
    timings['apt republish 3+1'] = r.durationMs;
    expect((await checkAptRepo(r.url, 'extra-0001')).ok).toBe(true);
    expect((await checkAptRepo(r.url, 'testpkg')).ok).toBe(true);
    const empty = await publishRepository(apt(), [], opts);
    expect(await readFile(join(empty.dir, 'Packages'), 'utf8')).toBe('');
    expect((await checkAptRepo(empty.url, 'testpkg')).code).toBe(4); // apt-get update --error-on=any passed
  });
});

describe('APT: apt checks a download against the SHA256 of its stanza', () => {
  it('a package whose bytes changed after publication is refused by apt-get download', async () => {
    const r = await publishRepository({ ...apt(), product: 'EXAMPLETP.tamper.debian12.all' }, core(debs), opts);
    const packages = await readFile(join(r.dir, 'Packages'), 'utf8');
    const dep = core(debs).find((p) => p.filename.startsWith('testpkg-dep_'))!;
    expect(packages).toContain(`\nSHA256: ${dep.sha256}\n`);
    expect(packages).not.toMatch(/^(MD5sum|SHA1|SHA512):/m);
    // a copy of the repository (the pool is shared with the other tests), one byte of the package changed
    const copy = await mkdtemp(join(root, 'tampered-'));
    await cp(r.dir, copy, { recursive: true, dereference: true });
    const deb = join(copy, poolHref(dep.sha256, dep.filename));
    await chmod(deb, 0o644);
    const bytes = await readFile(deb);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(deb, bytes);
    const key = join(publicKeysDir(storageDir), 'releasedesk.asc');
    expect((await checkAptRepo(copy, 'testpkg', { KEY: key })).ok).toBe(true);
    const refused = await checkAptRepo(copy, 'testpkg-dep', { KEY: key });
    expect(refused.code).toBe(5);
    expect(refused.output).toMatch(/Hash Sum mismatch|hash sum mismatch|Hashes of expected file/i);
  });
});

describe('100 packages and promotion', () => {
  it('publishes 100 packages fast, and republishes +1 reading only the new package', async () => {
    const hundred = rpms.filter((p) => !p.filename.startsWith('extra'));
    const y = await publishRepository(yum(), hundred, opts);
    const y1 = await publishRepository(yum(), [...hundred, extraRpm()], { ...opts, recorded: y.made });
    const hundredDebs = debs.filter((p) => !p.filename.startsWith('extra'));
    const a = await publishRepository(apt(), hundredDebs, opts);
    const a1 = await publishRepository(apt(), [...hundredDebs, extraDeb()], { ...opts, recorded: a.made });
    Object.assign(timings, { 'yum 100': y.durationMs, 'yum 100+1': y1.durationMs, 'apt 100': a.durationMs, 'apt 100+1': a1.durationMs });
    expect([y.packages, y1.packages, a1.packages]).toEqual([100, 101, 101]);
    expect([y.packagesRead, y1.packagesRead, a.packagesRead, a1.packagesRead]).toEqual([100, 1, 100, 1]);
    for (const r of [y, y1, a, a1]) expect(r.durationMs).toBeLessThan(5000);
    expect((await checkYumRepo(y1.url, 'testfill-0100')).ok).toBe(true);
    expect((await checkAptRepo(a1.url, 'testfill-0100')).ok).toBe(true);
  });

  it('promotion to another stage moves no bytes and, with the recorded entries, reads no package', async () => {
    const all = rpms;
    const u = await publishRepository(yum('unverified'), all, opts);
    const r = await publishRepository(yum('stage-rollout'), all, { ...opts, recorded: u.made });
    timings['yum promote 101'] = r.durationMs;
    expect(r).toMatchObject({ packages: 101, packagesRead: 0, url: `${server.url}/repos/stage-rollout/${yum().product}/` });
    const store = new BlobStore(storageDir);
    const pooled = (dir: string, p: RepoPackage) => stat(join(dir, poolHref(p.sha256, p.filename)));
    for (const p of all) expect((await pooled(r.dir, p)).ino).toBe((await stat(store.path(p.sha256))).ino);
    expect((await checkYumRepo(r.url, 'extra-0001')).ok).toBe(true);

    const au = await publishRepository(apt('unverified'), debs, opts);
    const a = await publishRepository(apt('stage-rollout'), debs, { ...opts, recorded: au.made });
    timings['apt promote 101'] = a.durationMs;
    expect(a.packagesRead).toBe(0);
    for (const p of debs) expect((await pooled(a.dir, p)).ino).toBe((await stat(store.path(p.sha256))).ino);
    expect((await checkAptRepo(a.url, 'extra-0001')).ok).toBe(true);
  });
});
