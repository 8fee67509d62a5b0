/**
 * debStanza against apt-ftparchive itself: for every test .deb, odd shapes and broken files included, either
 * the same stanza byte for byte, or undefined (the package then goes to apt-ftparchive).
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debStanza } from '../../../services/storage/deb-stanza.ts';
import { runTool } from '../../../services/storage/run-tool.ts';
import { buildOddFiles } from '../../support/odd-packages.ts';
import { buildTestPackages, type TestPackages } from '../../support/packages.ts';

let root: string;
let pk: TestPackages;
let odd: string[];
let every: string;

/** A .deb whose control has every field debStanza writes itself, in an order apt does not keep. */
async function everyFieldDeb(dir: string): Promise<string> {
  const d = join(dir, 'every');
  await mkdir(join(d, 'DEBIAN'), { recursive: true });
  const control = [
    'Package: every-field',
    'Description: all of them',
    ' second line',
    ' .',
    ' after a blank',
    'Homepage: https://example.invalid/every',
    'Enhances: e1',
    'Replaces: r1 (<< 1.0)',
    'Breaks: b1 (<< 1.0)',
    'Conflicts: c1',
    'Suggests: s1 | s2',
    'Recommends: rec1',
    'Depends: d1 (>= 1), d2',
    'Pre-Depends: pd1',
    'Provides: virt (= 2.0)',
    'Bugs: mailto:bugs@example.invalid',
    'Original-Maintainer: O <o@example.invalid>',
    'Maintainer: M <m@example.invalid>',
    'Origin: example',
    'Source: every-src (2.0-1)',
    'Section: misc',
    'Essential: no',
    'Priority: optional',
    'Multi-Arch: foreign',
    'Built-Using: bu (= 1.0)',
    'Version: 1:2.0-1',
    'Architecture: all',
    'Installed-Size: 12',
  ].join('\n');
  await writeFile(join(d, 'DEBIAN', 'control'), `${control}\n`);
  const deb = join(dir, 'every-field_2.0-1_all.deb');
  await runTool('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', d, deb], { timeoutMs: 60_000 });
  return deb;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-stanza-'));
  pk = await buildTestPackages(join(root, 'pkgs'), 4);
  odd = (await buildOddFiles(join(root, 'odd'), { rpm: pk.rpm('testpkg-dep').path, deb: pk.deb('testpkg-dep').path }))
    .filter((f) => f.format === 'deb')
    .map((f) => f.path);
  every = await everyFieldDeb(root);
}, 600_000);
afterAll(() => rm(root, { recursive: true, force: true }));

/** apt-ftparchive's stanza of one file, as it names it under pool/ (undefined when it skips the file). */
async function aptStanza(file: string): Promise<string | undefined> {
  const dir = await mkdtemp(join(root, 'apt-'));
  await mkdir(join(dir, 'pool'));
  await copyFile(file, join(dir, 'pool', basename(file)));
  const { stdout } = await runTool('apt-ftparchive', ['packages', 'pool'], { cwd: dir, timeoutMs: 60_000 });
  return stdout.trim() ? `${stdout.trim()}\n\n` : undefined;
}

async function compare(files: string[]) {
  const made: string[] = [];
  for (const f of files) {
    const ours = await debStanza(f, `pool/${basename(f)}`);
    if (ours === undefined) continue;
    expect(ours, basename(f)).toBe(await aptStanza(f));
    made.push(basename(f));
  }
  return made;
}

describe('debStanza', () => {
  it('writes what apt-ftparchive writes for every test package', async () => {
    expect(await compare(pk.debs.map((p) => p.path))).toHaveLength(pk.debs.length);
  });

  it('and for a control with every field it handles, reordered as apt orders them', async () => {
    expect(await compare([every])).toEqual([basename(every)]);
  });

  it('leaves to apt-ftparchive what it does not handle, and matches it on the odd shapes it does', async () => {
    const made = await compare(odd);
    // a field outside its list, xz control, broken files: the tool decides
    expect(made).not.toContain('odd-nodeps.deb');
    expect(made).not.toContain('odd-zxz.deb');
    expect(made).toEqual(expect.arrayContaining(['odd-folded.deb', 'odd-provides.deb', 'odd-alternatives.deb']));
  });
});
