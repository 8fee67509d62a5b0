import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdError } from '../../../services/errors.ts';
import {
  checkPackageAgainstSpec,
  packageMismatches,
  readPackageHeader,
  splitDebVersion,
  type PackageSpec,
} from '../../../services/storage/package-header.ts';
import { buildTestPackages, type TestPackages } from '../../support/packages.ts';

let root: string;
let pk: TestPackages;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-headers-'));
  pk = await buildTestPackages(join(root, 'pkgs'), 3, { version: '2.4.1', release: '3.el9' });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const rpmSpec = (o: Partial<PackageSpec> = {}): PackageSpec => ({
  filename: 'testpkg-dep-2.4.1-3.el9.noarch.rpm',
  pkgname: 'testpkg-dep',
  version: '2.4.1',
  release: '3.el9',
  arch: 'noarch',
  ...o,
});

describe('readPackageHeader', () => {
  it('reads name, version, release, arch, requires and provides of an rpm', async () => {
    const h = await readPackageHeader(pk.rpm('testpkg-dep').path, 'rpm');
    expect(h).toEqual({
      name: 'testpkg-dep',
      version: '2.4.1',
      release: '3.el9',
      arch: 'noarch',
      requires: ['testpkg = 2.4.1-3.el9'], // rpmlib(...) left out: rpm provides those itself
      provides: ['testpkg-dep = 2.4.1-3.el9'],
    });
  });

  it('reads a deb, splitting Version into upstream version and revision', async () => {
    expect(await readPackageHeader(pk.deb('testpkg-dep').path, 'deb')).toEqual({
      name: 'testpkg-dep',
      version: '2.4.1',
      release: '3.el9',
      arch: 'all',
      requires: ['testpkg (= 2.4.1-3.el9)'],
      provides: ['testpkg-dep (= 2.4.1-3.el9)'],
    });
    const broken = await readPackageHeader(pk.deb('testpkg-broken').path, 'deb');
    expect(broken.requires).toEqual(['testpkg-missing-capability (>= 99)']);
  });

  it('splits Debian versions at the last dash, epoch apart', () => {
    expect(splitDebVersion('1.2-3')).toEqual({ epoch: 0, version: '1.2', release: '3' });
    expect(splitDebVersion('2:1.0-rc1-0ubuntu2')).toEqual({ epoch: 2, version: '1.0-rc1', release: '0ubuntu2' });
    expect(splitDebVersion('20240101')).toEqual({ epoch: 0, version: '20240101', release: '' });
  });

  it('uses a private rpmdb and leaves none behind', async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('rd-rpmdb-')).length;
    await Promise.all(pk.rpms.map((p) => readPackageHeader(p.path, 'rpm')));
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('rd-rpmdb-')).length).toBe(before);
  });

  it('random bytes named .rpm are RD_PACKAGE_UNREADABLE, naming the file', async () => {
    const bad = join(root, 'foo-1.0-1.noarch.rpm');
    await writeFile(bad, randomBytes(4096));
    const err = await readPackageHeader(bad, 'rpm').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RdError);
    expect(err).toMatchObject({ code: 'RD_PACKAGE_UNREADABLE', details: { filename: 'foo-1.0-1.noarch.rpm' } });
    expect((err as Error).message).toMatch(/^foo-1\.0-1\.noarch\.rpm: not a readable RPM package/);
  });

  it('a package of the other format is unreadable too; displayName replaces a blob path', async () => {
    const blob = join(root, 'ab'.repeat(32));
    await copyFile(pk.rpm('testpkg').path, blob);
    await expect(readPackageHeader(blob, 'deb', 'testpkg_1.0_all.deb')).rejects.toMatchObject({
      code: 'RD_PACKAGE_UNREADABLE',
      message: expect.stringMatching(
        /^testpkg_1\.0_all\.deb: not a readable DEB package \(dpkg-deb: error: 'testpkg_1\.0_all\.deb' is not/,
      ),
    });
    await expect(readPackageHeader(pk.deb('testpkg').path, 'rpm')).rejects.toMatchObject({ code: 'RD_PACKAGE_UNREADABLE' });
    await expect(readPackageHeader(join(root, 'absent.rpm'), 'rpm')).rejects.toMatchObject({ code: 'RD_PACKAGE_UNREADABLE' });
  });
});

describe('checkPackageAgainstSpec', () => {
  it('accepts a package that agrees with release.xml', async () => {
    const h = await readPackageHeader(pk.rpm('testpkg-dep').path, 'rpm');
    expect(() => checkPackageAgainstSpec(h, rpmSpec())).not.toThrow();
    const d = await readPackageHeader(pk.deb('testpkg').path, 'deb');
    expect(() =>
      checkPackageAgainstSpec(d, {
        filename: 'testpkg_2.4.1-3.el9_all.deb',
        pkgname: 'testpkg',
        version: '2.4.1',
        release: '3.el9',
        arch: 'all',
      }),
    ).not.toThrow();
  });

  it('names the field that disagrees', async () => {
    const h = await readPackageHeader(pk.rpm('testpkg-dep').path, 'rpm');
    const err = (() => {
      try {
        checkPackageAgainstSpec(h, rpmSpec({ version: '2.4.0' }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({
      code: 'RD_PACKAGE_MISMATCH',
      message: 'testpkg-dep-2.4.1-3.el9.noarch.rpm: header says version 2.4.1, release.xml says 2.4.0',
      details: { filename: 'testpkg-dep-2.4.1-3.el9.noarch.rpm', mismatches: [{ field: 'version', header: '2.4.1', spec: '2.4.0' }] },
    });
  });

  it('lists every disagreeing field; arch is compared literally', async () => {
    const h = await readPackageHeader(pk.rpm('testpkg').path, 'rpm');
    const bad = packageMismatches(h, rpmSpec({ pkgname: 'testpkg-x', release: '1', arch: 'x86_64' }));
    expect(bad.map((m) => m.field)).toEqual(['name', 'release', 'arch']);
    expect(() => checkPackageAgainstSpec(h, rpmSpec({ pkgname: 'testpkg', arch: 'x86_64', release: '' }))).toThrow(
      'header says release 3.el9, release.xml says (empty); header says arch noarch, release.xml says x86_64',
    );
    const d = await readPackageHeader(pk.deb('testpkg').path, 'deb');
    expect(packageMismatches(d, { filename: 'x.deb', pkgname: 'testpkg', version: '2.4.1', release: '3.el9', arch: 'amd64' })).toEqual([
      { field: 'arch', header: 'all', spec: 'amd64' },
    ]);
  });
});
