import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, sha256File } from '../../../services/storage/blobs.ts';
import { currentVersion, publishRepository, rollbackRepository, type PublishOptions } from '../../../services/storage/publish.ts';
import type { RepoKind, RepoPackage, RepoRef } from '../../../services/storage/repo-ref.ts';
import { RPM_READER } from '../../../services/storage/rpm-reader.ts';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { adoptTestPackages, buildTestPackages, type TestPackages } from '../../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveStorage, type StaticServer } from '../../support/repo-clients.ts';

// What must never happen: a failed publish changing the live repository, a path leaving STORAGE_DIR,
// an index that silently omits a package or is not signed, two concurrent publishes corrupting each other.
let root: string;
let signer: Signer;
let storageDir: string;
let server: StaticServer;
let pk: TestPackages;
let store: BlobStore;
let rpms: RepoPackage[];
let debs: RepoPackage[];
let opts: PublishOptions;

const core = (list: RepoPackage[]) => list.filter((p) => p.filename.startsWith('testpkg'));
const repo = (kind: RepoKind, product = `fail.${kind}`): RepoRef => ({ stage: 'unverified', product, kind });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-publish-fail-'));
  storageDir = join(root, 'storage');
  pk = await buildTestPackages(join(root, 'pkgs'), 4);
  store = new BlobStore(storageDir);
  await store.init();
  rpms = await adoptTestPackages(store, pk.rpms);
  debs = await adoptTestPackages(store, pk.debs);
  signer = await startSigner({ storageDir, keys: [] });
  server = await serveStorage(storageDir);
  opts = { storageDir, publicUrl: server.url, signer };
});
afterAll(async () => {
  await server?.close();
  await signer?.stop();
  await rm(root, { recursive: true, force: true });
});

/** A directory with a fake `tool` that fails like a real one would, first on PATH. */
async function failingTool(tool: string): Promise<NodeJS.ProcessEnv> {
  const bin = join(root, `fake-${tool}`);
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, tool), `#!/bin/sh\necho "${tool}: simulated failure: No space left on device" >&2\nexit 7\n`);
  await chmod(join(bin, tool), 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH}` };
}

const builds = async (r: RepoRef) =>
  (await readdir(join(storageDir, 'repos', '.versions', r.stage, r.product)).catch(() => [] as string[])).filter((n) => n.startsWith('.'));

/** createrepo_c's library failing as the RPM reader loads it (the reader, not a package, fails), like a tool would. */
async function failingLibrary(): Promise<NodeJS.ProcessEnv> {
  const lib = join(root, 'fake-createrepo_c');
  await mkdir(lib, { recursive: true });
  await writeFile(
    join(lib, 'createrepo_c.py'),
    'import sys\nsys.stderr.write("createrepo_c: simulated failure: No space left on device\\n")\nsys.exit(7)\n',
  );
  return { ...process.env, PYTHONPATH: lib };
}

describe.each([
  ['yum', RPM_READER, 'createrepo_c', () => rpms, checkYumRepo, failingLibrary],
  ['apt', 'apt-ftparchive', 'apt-ftparchive', () => debs, checkAptRepo, () => failingTool('apt-ftparchive')],
] as const)('%s: a failing publish', (kind, tool, reader, pkgs, check, failing) => {
  it(`${tool} exiting non-zero: RD_PUBLISH_FAILED with its stderr, previous version still live, no aside dir`, async () => {
    const r = repo(kind);
    const first = await publishRepository(r, core(pkgs()), opts);
    const err = await publishRepository(r, pkgs(), { ...opts, env: await failing() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RdError', code: 'RD_PUBLISH_FAILED', details: { tool, exitCode: 7 } });
    expect((err as Error).message).toContain('simulated failure: No space left on device');
    expect(await currentVersion(storageDir, r)).toEqual({ version: first.version, dir: first.dir });
    expect(await builds(r)).toEqual([]);
    expect((await check(first.url, 'testpkg')).ok).toBe(true);
    expect((await check(first.url, 'testfill-0004')).code).toBe(4); // the failed publish's package never appeared
  });

  it('gpg failing to sign: RD_PUBLISH_FAILED, previous signed version still live, no aside dir', async () => {
    const r = repo(kind, `unsigned.${kind}`);
    const first = await publishRepository(r, core(pkgs()), opts);
    const broken = await startSigner({ storageDir: join(root, `broken-${kind}`), keys: [] });
    await broken.stop(); // its keyring and agent are gone: gpg finds no secret key
    const err = await publishRepository(r, pkgs(), { ...opts, signer: broken }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RdError', code: 'RD_PUBLISH_FAILED', permanent: false, details: { tool: 'gpg', exitCode: 2 } });
    expect(await currentVersion(storageDir, r)).toEqual({ version: first.version, dir: first.dir });
    expect(await builds(r)).toEqual([]);
    expect((await check(first.url, 'testpkg')).ok).toBe(true);
    expect((await check(first.url, 'testfill-0004')).code).toBe(4);
  });

  it('a corrupt package (which the tool would silently skip) fails with RD_PACKAGE_UNREADABLE naming it', async () => {
    const r = repo(kind);
    const before = await currentVersion(storageDir, r);
    const tmp = store.tempPath();
    await writeFile(tmp, randomBytes(3000));
    const { sha256, size } = await sha256File(tmp);
    await store.adopt(tmp, sha256, size);
    const evil = kind === 'yum' ? 'evil-1.0-1.noarch.rpm' : 'evil_1.0-1_all.deb';
    await expect(publishRepository(r, [...pkgs(), { sha256, filename: evil }], opts)).rejects.toMatchObject({
      code: 'RD_PACKAGE_UNREADABLE',
      message: expect.stringContaining(`${evil}: ${reader} could not read the package`),
    });
    const err = (await publishRepository(r, [{ sha256, filename: evil }], opts).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/could not read the package \([\s\S]+\)/); // the tool's own words...
    expect(err.message).not.toContain(storageDir); // ...without internal paths (ticket comments)
    expect(await currentVersion(storageDir, r)).toEqual(before);
    expect(await builds(r)).toEqual([]);
  });
});

describe('paths stay inside STORAGE_DIR', () => {
  it.each(['../x.rpm', '../../../x.rpm', 'a/b.rpm', '/tmp/x.rpm', '.x.rpm', 'x.deb', 'x.rpm\n', ''])(
    'refuses filename %j',
    async (filename) => {
      const before = await readdir(root);
      await expect(publishRepository(repo('yum', 'paths'), [{ sha256: rpms[0]!.sha256, filename }], opts)).rejects.toMatchObject({
        code: 'RD_XML_INVALID',
      });
      expect(await readdir(root)).toEqual(before);
      expect(await currentVersion(storageDir, repo('yum', 'paths'))).toBeNull();
    },
  );

  it.each(['..', '../evil', 'a/b', '.versions', ''])('refuses product %j', async (product) => {
    await expect(publishRepository(repo('apt', product), debs, opts)).rejects.toMatchObject({ code: 'RD_XML_INVALID' });
    expect((await readdir(join(storageDir, 'repos'))).sort()).not.toContain('evil');
  });

  it('refuses two different packages under one filename, accepts the same one twice', async () => {
    const [a, b] = rpms as [RepoPackage, RepoPackage];
    await expect(publishRepository(repo('yum', 'dups'), [a, { ...b, filename: a.filename }], opts)).rejects.toMatchObject({
      code: 'RD_XML_INVALID',
    });
    expect((await publishRepository(repo('yum', 'dups'), [a, a], opts)).packages).toBe(1);
  });

  it('a blob missing from the store is an internal error, nothing published', async () => {
    await expect(
      publishRepository(repo('yum', 'missing'), [{ sha256: 'cd'.repeat(32), filename: 'x-1-1.noarch.rpm' }], opts),
    ).rejects.toMatchObject({
      code: 'RD_INTERNAL',
    });
    expect(await currentVersion(storageDir, repo('yum', 'missing'))).toBeNull();
    expect(await builds(repo('yum', 'missing'))).toEqual([]);
  });
});

describe('concurrency and rollback', () => {
  it('two publishes of one repository at once both finish and leave a valid repository', async () => {
    const r = repo('yum', 'race');
    const [a, b] = await Promise.all([publishRepository(r, core(rpms), opts), publishRepository(r, rpms, opts)]);
    expect(new Set([a.version, b.version])).toEqual(new Set([1, 2]));
    const live = await currentVersion(storageDir, r);
    expect([a.dir, b.dir]).toContain(live?.dir);
    expect((await checkYumRepo(a.url, 'testpkg')).ok).toBe(true);
    expect(await builds(r)).toEqual([]);
  });

  it('rollback points the repository at the previous version', async () => {
    const r = repo('apt', 'rollback');
    const v1 = await publishRepository(r, core(debs), opts);
    await publishRepository(r, [], opts);
    expect((await checkAptRepo(v1.url, 'testpkg')).code).toBe(4);
    expect(await rollbackRepository(storageDir, r)).toEqual({ version: 1, dir: v1.dir });
    expect(await readlink(join(storageDir, 'repos', 'unverified', 'rollback'))).toBe('../.versions/unverified/rollback/1');
    expect((await checkAptRepo(v1.url, 'testpkg')).ok).toBe(true);
  });
});
