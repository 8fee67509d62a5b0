/**
 * Packages of the shapes test/support/packages.ts does not make, for comparing header readers: RPMs with an
 * epoch, versioned requires of every sense, rich and file dependencies, Requires(pre), virtual provides;
 * DEBs with alternatives, Pre-Depends, versioned Provides, an epoch, folded fields, uppercase in versions;
 * and broken files (truncated, not a package, a .deb whose control dpkg refuses, one of the other format).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync, zstdCompressSync } from 'node:zlib';

const run = promisify(execFile);

export interface OddFile {
  path: string;
  format: 'rpm' | 'deb';
  displayName: string;
}

const RPMS: Array<{ name: string; lines: string[] }> = [
  { name: 'odd-epoch', lines: ['Epoch: 3', 'Provides: odd-virtual = 1.5', 'Provides: odd-plain'] },
  {
    name: 'odd-senses',
    lines: [
      'Requires: lt-cap < 2',
      'Requires: le-cap <= 2.0-1',
      'Requires: gt-cap > 0.1',
      'Requires: ge-cap >= 1:2.0-1.el9',
      'Requires: eq-cap = 4.5',
      'Requires(pre): pre-cap >= 1',
      'Requires: /bin/sh',
      'Requires: (alt-a or alt-b >= 2)',
      'Requires: (with-a if with-b)',
      'Conflicts: odd-old < 1',
    ],
  },
  { name: 'odd-tilde', lines: ['Provides: odd-tilde-cap = 1.0~rc1^git2'] },
];

/** Odd RPMs, one rpmbuild run (subpackages of one spec); main package odd-epoch. */
async function buildRpms(dir: string): Promise<string[]> {
  const top = join(dir, 'rpmbuild');
  const spec = [
    '%define debug_package %{nil}',
    '%define _build_id_links none',
    'Name: odd-epoch',
    'Version: 2.0',
    'Release: 1.el9',
    'Summary: odd',
    'License: MIT',
    'BuildArch: noarch',
    'AutoReqProv: no',
    ...RPMS[0]!.lines,
    '%description',
    'odd',
    ...RPMS.slice(1).flatMap((p) => [
      `%package -n ${p.name}`,
      'Summary: odd',
      'AutoReqProv: no',
      ...p.lines,
      `%description -n ${p.name}`,
      'odd',
    ]),
    '%install',
    'mkdir -p %{buildroot}/usr/share/odd',
    ...RPMS.map((p) => `echo ${p.name} > %{buildroot}/usr/share/odd/${p.name}`),
    '%files',
    '/usr/share/odd/odd-epoch',
    ...RPMS.slice(1).flatMap((p) => [`%files -n ${p.name}`, `/usr/share/odd/${p.name}`]),
  ].join('\n');
  await mkdir(top, { recursive: true });
  await writeFile(join(dir, 'odd.spec'), `${spec}\n`);
  await run('rpmbuild', [
    '-bb',
    '--quiet',
    '--nodeps',
    '--define',
    `_topdir ${top}`,
    '--define',
    `_rpmdir ${dir}`,
    '--define',
    '_build_name_fmt %%{NAME}.rpm',
    '--define',
    `_dbpath ${join(dir, 'rpmdb')}`,
    join(dir, 'odd.spec'),
  ]);
  return RPMS.map((p) => join(dir, `${p.name}.rpm`));
}

/** Control files dpkg-deb --build accepts. */
const DEBS: Record<string, string> = {
  'odd-alternatives': 'Version: 1.0-1\nArchitecture: all\nDepends: alt-a | alt-b (>= 2.0), plain,  spaced   (<<  3)\n',
  'odd-predepends': 'Version: 2:1.0-rc1-3\nArchitecture: amd64\nPre-Depends: dpkg (>= 1.19.0)\nDepends: libc6 (>= 2.34)\n',
  'odd-provides': 'Version: 1.0+dfsg~1\nArchitecture: all\nProvides: odd-virtual (= 1.0), odd-plain\nMulti-Arch: foreign\n',
  'odd-folded':
    'Version: 0.9\nArchitecture: all\nDepends: first-dep,\n second-dep (>= 1),\n third-dep\nEssential: no\nHomepage: https://example.invalid\n',
  'odd-nodeps': 'Version: 1.0-1\nArchitecture: all\nSection: misc\nPriority: optional\nX-Custom-Field: anything (goes)\n',
};

async function buildDebs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const [name, fields] of Object.entries(DEBS)) {
    const root = join(dir, 'debroot', name);
    await mkdir(join(root, 'DEBIAN'), { recursive: true });
    await writeFile(
      join(root, 'DEBIAN', 'control'),
      `Package: ${name}\n${fields}Maintainer: T <t@example.invalid>\nDescription: odd\n odd\n`,
    );
    const deb = join(dir, `${name}.deb`);
    await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb]);
    out.push(deb);
  }
  // the compressions dpkg-deb writes: xz (its default) and none
  for (const z of ['xz', 'none']) {
    const deb = join(dir, `odd-z${z}.deb`);
    await run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', join(dir, 'debroot', 'odd-predepends'), deb]);
    out.push(deb);
  }
  return out;
}

/** A .deb assembled by hand (ar + tar), so that its control may be one dpkg-deb --build would refuse. */
async function handDeb(dir: string, name: string, control: string, compress: 'gz' | 'zst' = 'gz'): Promise<string> {
  const c = join(dir, 'hand', name);
  await mkdir(join(c, 'ctl'), { recursive: true });
  await writeFile(join(c, 'ctl', 'control'), control);
  await run('tar', ['--owner=0', '--group=0', '-cf', join(c, 'control.tar'), '-C', join(c, 'ctl'), './control']);
  const tar = await readFile(join(c, 'control.tar'));
  await writeFile(join(c, `control.tar.${compress}`), compress === 'gz' ? gzipSync(tar) : zstdCompressSync(tar));
  await writeFile(join(c, 'debian-binary'), '2.0\n');
  await writeFile(join(c, 'data.tar.gz'), gzipSync(Buffer.alloc(1024)));
  const deb = join(dir, `${name}.deb`);
  await run('ar', ['rc', deb, 'debian-binary', `control.tar.${compress}`, 'data.tar.gz'], { cwd: c });
  return deb;
}

/** Every odd package and broken file, with the format a release.xml would claim for it. */
export async function buildOddFiles(dir: string, good: { rpm: string; deb: string }): Promise<OddFile[]> {
  await mkdir(dir, { recursive: true });
  const files: OddFile[] = [];
  const add = (path: string, format: 'rpm' | 'deb', displayName = path.split('/').pop()!) => files.push({ path, format, displayName });
  for (const p of await buildRpms(dir)) add(p, 'rpm');
  for (const p of await buildDebs(dir)) add(p, 'deb');
  const base = 'Version: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.invalid>\nDescription: hand\n';
  add(await handDeb(dir, 'hand-ok', `Package: hand-ok\n${base}Depends: a (>= 1), b\n`), 'deb');
  add(await handDeb(dir, 'hand-zstd', `Package: hand-zstd\n${base}`, 'zst'), 'deb');
  add(await handDeb(dir, 'hand-upper', `Package: Hand-Upper\n${base}Depends: Other-Pkg (>= 1)\n`), 'deb');
  add(
    await handDeb(
      dir,
      'hand-spacing',
      `Package: hand-spacing\n${base}Depends:  lib+x.y ( >= 01:2.0~rc1+b1 ) |\tother ,z\nProvides: v.x+1 (=1.0)\n`,
    ),
    'deb',
  );
  add(await handDeb(dir, 'hand-zero-epoch', `Package: hand-zero-epoch\nVersion: 0:1.0-1\nArchitecture: all\nDepends: x (>= 0:2)\n`), 'deb');
  add(await handDeb(dir, 'hand-old-relations', `Package: hand-old-relations\n${base}Depends: a (< 1), b (> 2), c(>=3)\n`), 'deb');
  add(await handDeb(dir, 'hand-archqual', `Package: hand-archqual\n${base}Depends: python3:any (>= 3.9), gcc:native\n`), 'deb');
  add(await handDeb(dir, 'hand-bad-version', `Package: hand-bad-version\n${base}Depends: bar (>= )\n`), 'deb');
  add(await handDeb(dir, 'hand-no-package', base), 'deb');
  add(await handDeb(dir, 'hand-no-version', 'Package: hand-no-version\nArchitecture: all\n'), 'deb');
  add(await handDeb(dir, 'hand-duplicate', `Package: hand-duplicate\n${base}Depends: a\nDepends: b\n`), 'deb');
  add(await handDeb(dir, 'hand-bad-essential', `Package: hand-bad-essential\n${base}Essential: maybe\n`), 'deb');
  add(await handDeb(dir, 'hand-status', `Package: hand-status\n${base}Status: install ok installed\n`), 'deb');
  add(await handDeb(dir, 'hand-empty-dep', `Package: hand-empty-dep\n${base}Depends: a, , b\n`), 'deb');
  add(await handDeb(dir, 'hand-trailing-comma', `Package: hand-trailing-comma\n${base}Depends: a, b,\n`), 'deb');
  add(await handDeb(dir, 'hand-provides-ge', `Package: hand-provides-ge\n${base}Provides: v (>= 1)\n`), 'deb');
  add(await handDeb(dir, 'hand-bad-arch', 'Package: hand-bad-arch\nVersion: 1\nArchitecture: Not_An*Arch\n'), 'deb');
  add(await handDeb(dir, 'hand-comment', `# a comment\nPackage: hand-comment\n${base}`), 'deb');
  add(await handDeb(dir, 'hand-two-stanzas', `Package: hand-two-stanzas\n${base}\nPackage: second\n${base}`), 'deb');
  add(await handDeb(dir, 'hand-crlf', `Package: hand-crlf\r\nVersion: 1.0-1\r\nArchitecture: all\r\n`), 'deb');
  // broken files
  const bytes = async (name: string, b: Buffer | string) => {
    const p = join(dir, name);
    await writeFile(p, b);
    return p;
  };
  const rpm = await readFile(good.rpm);
  const deb = await readFile(good.deb);
  add(await bytes('truncated-lead.rpm', rpm.subarray(0, 60)), 'rpm');
  add(await bytes('truncated-header.rpm', rpm.subarray(0, 700)), 'rpm');
  add(await bytes('truncated-payload.rpm', rpm.subarray(0, rpm.length - 100)), 'rpm');
  add(await bytes('random.rpm', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))), 'rpm');
  add(await bytes('empty.rpm', ''), 'rpm');
  add(await bytes('text.rpm', 'not an rpm at all\n'), 'rpm');
  add(await bytes('truncated-ar.deb', deb.subarray(0, 30)), 'deb');
  add(await bytes('truncated-control.deb', deb.subarray(0, 200)), 'deb');
  add(await bytes('truncated-data.deb', deb.subarray(0, deb.length - 50)), 'deb');
  add(await bytes('random.deb', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256))), 'deb');
  add(await bytes('empty.deb', ''), 'deb');
  const swapped = join(dir, 'rpm-as-deb.deb');
  await copyFile(good.rpm, swapped);
  add(swapped, 'deb');
  const swapped2 = join(dir, 'deb-as-rpm.rpm');
  await copyFile(good.deb, swapped2);
  add(swapped2, 'rpm');
  add(join(dir, 'absent.rpm'), 'rpm');
  add(join(dir, 'absent.deb'), 'deb');
  return files;
}
