/**
 * readPackageHeaders against the reference, readPackageHeader (one rpm -qp / dpkg-deb -f per package): the
 * same header, or the same error code and message, for every test package, odd shapes and broken files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debControlFields } from '../../../services/storage/deb-control.ts';
import { DEB_FIELDS, readPackageHeader } from '../../../services/storage/package-header.ts';
import { type HeaderFile, readPackageHeaders } from '../../../services/storage/package-headers.ts';
import { runTool } from '../../../services/storage/run-tool.ts';
import { buildOddFiles } from '../../support/odd-packages.ts';
import { buildTestPackages, type TestPackages } from '../../support/packages.ts';

let root: string;
let pk: TestPackages;
let odd: HeaderFile[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-headers-batch-'));
  pk = await buildTestPackages(join(root, 'pkgs'), 12, { version: '2.4.1', release: '3.el9' });
  odd = await buildOddFiles(join(root, 'odd'), { rpm: pk.rpm('testpkg-dep').path, deb: pk.deb('testpkg-dep').path });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const asFiles = (pkgs: TestPackages['rpms']): HeaderFile[] =>
  pkgs.map((p) => ({ path: p.path, format: p.filename.endsWith('.deb') ? 'deb' : 'rpm', displayName: p.filename }));

/** What the reference gives: the header, or the error's code and message (dpkg-deb's scratch dir named alike). */
async function reference(f: HeaderFile) {
  return outcome(await readPackageHeader(f.path, f.format, f.displayName).then(ok, ko));
}
const ok = (value: unknown): PromiseSettledResult<unknown> => ({ status: 'fulfilled', value });
const ko = (reason: unknown): PromiseSettledResult<unknown> => ({ status: 'rejected', reason });
function outcome(r: PromiseSettledResult<unknown>) {
  if (r.status === 'fulfilled') return { header: r.value };
  const e = r.reason as { code?: string; message: string; details?: unknown };
  return { code: e.code, message: e.message.replace(/\/tmp\/dpkg-deb\.\w+\//g, '/tmp/dpkg-deb.X/'), details: e.details };
}

async function compare(files: HeaderFile[]) {
  const got = (await readPackageHeaders(files)).map(outcome);
  const want = await Promise.all(files.map(reference));
  for (let i = 0; i < files.length; i++)
    expect({ file: files[i]!.displayName, ...got[i] }).toEqual({ file: files[i]!.displayName, ...want[i] });
  return got;
}

describe('readPackageHeaders', () => {
  it('gives what readPackageHeader gives for every test package', async () => {
    const got = await compare([...asFiles(pk.rpms), ...asFiles(pk.debs)]);
    expect(got.every((g) => 'header' in g)).toBe(true);
  });

  it('and for odd shapes and broken files, all in one call, in any order', async () => {
    const files = [...odd, ...asFiles(pk.rpms), ...asFiles(pk.debs)];
    const got = await compare(files);
    // the set covers both outcomes of both formats
    const read = (format: string) => got.filter((g, i) => files[i]!.format === format && 'header' in g).length;
    const failed = (format: string) => got.filter((g, i) => files[i]!.format === format && 'code' in g).length;
    expect([read('rpm'), read('deb'), failed('rpm'), failed('deb')].every((n) => n >= 3)).toBe(true);
    await compare([...files].reverse());
  });

  it('reads odd RPM shapes: epoch, every sense, rich and file dependencies, without rpmlib()', async () => {
    const [epoch, senses] = (await readPackageHeaders(odd.slice(0, 2))).map((r) => (r as PromiseFulfilledResult<unknown>).value);
    expect(epoch).toMatchObject({
      name: 'odd-epoch',
      epoch: 3,
      provides: expect.arrayContaining(['odd-virtual = 1.5', 'odd-epoch = 3:2.0-1.el9']),
    });
    expect(senses).toMatchObject({
      requires: expect.arrayContaining(['lt-cap < 2', 'ge-cap >= 1:2.0-1.el9', '/bin/sh', '(alt-a or alt-b >= 2)', 'pre-cap >= 1']),
    });
  });

  it('a chunk with an unreadable package still reads the others, each with its own result', async () => {
    const files = [...asFiles(pk.rpms.slice(0, 2)), odd.find((f) => f.displayName === 'random.rpm')!, ...asFiles(pk.rpms.slice(2, 4))];
    const got = await compare(files);
    expect(got.map((g) => ('code' in g ? g.code : 'ok'))).toEqual(['ok', 'ok', 'RD_PACKAGE_UNREADABLE', 'ok', 'ok']);
  });

  it('reads plain DEBs in-process, printing what dpkg-deb -f prints; the others go to dpkg-deb', async () => {
    const debs = [...odd, ...asFiles(pk.debs)].filter((f) => f.format === 'deb');
    const inProcess: string[] = [];
    for (const f of debs) {
      const text = await debControlFields(f.path);
      if (text === undefined) continue;
      inProcess.push(f.displayName);
      const { stdout } = await runTool('dpkg-deb', ['-f', '--', f.path, ...DEB_FIELDS], { timeoutMs: 30_000 });
      expect({ file: f.displayName, text }).toEqual({ file: f.displayName, text: stdout });
    }
    expect(inProcess.sort()).toEqual(
      [
        ...pk.debs.map((p) => p.filename),
        ...['odd-alternatives', 'odd-predepends', 'odd-provides', 'odd-folded', 'odd-nodeps', 'odd-znone'].map((n) => `${n}.deb`),
        ...['hand-ok', 'hand-zstd', 'hand-zero-epoch', 'hand-old-relations', 'hand-spacing', 'truncated-data'].map((n) => `${n}.deb`),
      ].sort(),
    );
  });

  it('an empty list reads nothing', async () => {
    expect(await readPackageHeaders([])).toEqual([]);
  });
});
