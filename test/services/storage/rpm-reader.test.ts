/**
 * The long-lived RPM reader against the tools it stands in for: the header text `rpm -qp --qf RPM_QF`
 * prints, and the <package> elements createrepo_c writes, byte for byte, on the test packages and odd
 * shapes; a package it cannot read is an answer, the reader's own end is an error, and the next question
 * starts a new reader; an idle reader does not keep its parent alive.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RPM_QF, rpmQuery } from '../../../services/storage/package-header.ts';
import { readRpm } from '../../../services/storage/rpm-reader.ts';
import { ToolError } from '../../../services/storage/run-tool.ts';
import { buildOddFiles } from '../../support/odd-packages.ts';
import { buildTestPackages, type TestPackages } from '../../support/packages.ts';

const exec = promisify(execFile);
let root: string;
let pk: TestPackages;
let rpms: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-rpm-reader-'));
  pk = await buildTestPackages(join(root, 'pkgs'), 6);
  const odd = await buildOddFiles(join(root, 'odd'), { rpm: pk.rpm('testpkg-dep').path, deb: pk.deb('testpkg-dep').path });
  // every RPM rpm itself reads: the test packages and the odd shapes (epoch, every sense, rich dependencies...)
  const readable = [];
  for (const f of odd.filter((o) => o.format === 'rpm')) if (await rpmQuery('%{NAME}', [f.path]).catch(() => null)) readable.push(f.path);
  rpms = [...pk.rpms.map((p) => p.path), ...readable];
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha256Of = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** What the live readers (children of this process) have read through read() so far. */
function readerReads(): number {
  const pids = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'rpm-reader.py'])
    .toString()
    .trim()
    .split('\n')
    .map(Number);
  return pids.reduce((n, pid) => n + Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]), 0);
}

/** The <package> elements of a createrepo_c document, each with its newline. */
const elements = (xml: string) => [...xml.matchAll(/<package [\s\S]*?<\/package>\n/g)].map((m) => m[0]);

describe('readRpm', () => {
  it('gives the header text rpm -qp prints, for every package rpm reads', async () => {
    expect(rpms.length).toBeGreaterThan(pk.rpms.length);
    const got = await Promise.all(rpms.map((p) => readRpm(p)));
    for (const [i, p] of rpms.entries())
      expect({ file: basename(p), header: got[i]!.header }).toEqual({ file: basename(p), header: await rpmQuery(RPM_QF, [p]) });
    expect(got.every((g) => g.parts === undefined)).toBe(true);
  });

  it('gives the elements createrepo_c writes, byte for byte, the <location> named as asked, and no header unless asked', async () => {
    // createrepo_c over a directory of the same files: each one's href is its name there
    const dir = join(root, 'cr');
    await mkdir(join(dir, 'in'), { recursive: true });
    await mkdir(join(dir, 'out'));
    const names = rpms.map((p, i) => `${i}-${basename(p)}`);
    await Promise.all(rpms.map(async (p, i) => writeFile(join(dir, 'in', names[i]!), await readFile(p))));
    await exec('createrepo_c', ['-q', '--no-database', '--general-compress-type=gz', '--outputdir', join(dir, 'out'), join(dir, 'in')]);
    const repodata = join(dir, 'out', 'repodata');
    const docs = await readdir(repodata);
    const want = await Promise.all(
      ['primary', 'filelists', 'other'].map(async (t) =>
        elements(gunzipSync(await readFile(join(repodata, docs.find((d) => d.endsWith(`${t}.xml.gz`))!))).toString('utf8')),
      ),
    );
    const got = await Promise.all(names.map((n) => readRpm(join(dir, 'in', n), { href: n, header: false })));
    // the blob store's way: the digest given, only the headers read
    const given = await Promise.all(
      names.map(async (n) => readRpm(join(dir, 'in', n), { href: n, header: false, sha256: await sha256Of(join(dir, 'in', n)) })),
    );
    expect([...got, ...given].every((g) => g.header === undefined && g.headerError === undefined)).toBe(true);
    const byHref = new Map(want[0]!.map((el, i) => [/<location href="([^"]+)"/.exec(el)![1]!, i]));
    for (const [i, n] of names.entries()) {
      const at = byHref.get(n)!;
      // each part one gzip member: a distribution index is their concatenation
      const parts = got[i]!.parts!.map((b) => gunzipSync(b).toString('utf8'));
      expect({ n, parts }).toEqual({ n, parts: [want[0]![at], want[1]![at], want[2]![at]] });
      const fromHeaders = given[i]!.parts!.map((b) => gunzipSync(b).toString('utf8'));
      expect({ n, fromHeaders }).toEqual({ n, fromHeaders: [want[0]![at], want[1]![at], want[2]![at]] });
    }
  });

  it('given the digest, reads the headers and not the payload, and names the digest given', async () => {
    const big = await buildTestPackages(join(root, 'big'), 3, { payloadKb: 8192 });
    const path = big.rpms[0]!.path;
    const size = (await stat(path)).size;
    expect(size).toBeGreaterThan(4 * 2 ** 20);
    await readRpm(pk.rpms[0]!.path, { href: 'warm.rpm' }); // a reader is up
    const before = readerReads();
    const read = await readRpm(path, { header: false, href: 'big.rpm', sha256: 'ab'.repeat(32) });
    const read2 = readerReads() - before;
    expect(gunzipSync(read.parts![0]!).toString('utf8')).toContain(`<checksum type="sha256" pkgid="YES">${'ab'.repeat(32)}</checksum>`);
    expect(gunzipSync(read.parts![0]!).toString('utf8')).toContain(`<size package="${size}"`);
    expect(read2).toBeGreaterThan(0);
    expect(read2).toBeLessThan(size / 8);
    // without the digest createrepo_c reads it all for its checksum: what the bound above tells apart
    const before2 = readerReads();
    await readRpm(path, { header: false, href: 'big.rpm' });
    expect(readerReads() - before2).toBeGreaterThan(size);
  });

  it.each([
    ['', undefined],
    [', the digest given', 'cd'.repeat(32)],
  ])('a package it cannot read is an answer naming why, and the next question is answered%s', async (_, sha256) => {
    const bad = join(root, 'random.rpm');
    await writeFile(bad, Buffer.alloc(4096, 7));
    // a real package cut inside its signature header: its lead is right, its headers' sizes run past its end
    const cut = join(root, 'cut.rpm');
    await writeFile(cut, (await readFile(pk.rpms[0]!.path)).subarray(0, 200));
    const [broken, absent, fine, short] = await Promise.all([
      readRpm(bad, { href: 'random.rpm', sha256 }),
      readRpm(join(root, 'absent.rpm'), { href: 'absent.rpm', sha256 }),
      readRpm(pk.rpms[0]!.path, { href: 'x.rpm', sha256 }),
      readRpm(cut, { href: 'cut.rpm', sha256 }),
    ]);
    expect(short).toEqual({ headerError: expect.any(String), partsError: expect.stringContaining('cut.rpm') });
    expect(broken).toEqual({
      headerError: expect.stringContaining('error reading package header'),
      partsError: expect.stringContaining('random.rpm'),
    });
    expect(absent).toEqual({ headerError: expect.stringContaining('No such file'), partsError: expect.any(String) });
    expect(fine.header).toContain(`name=${pk.rpms[0]!.name}\n`);
    expect(fine.parts).toHaveLength(3);
  });

  it('the readers dying fails what they were asked with a ToolError; the next question starts a new one', async () => {
    const asked = Array.from({ length: 2000 }, () => readRpm(pk.rpms[0]!.path, { href: 'x.rpm' }));
    // while they are still being answered
    const pids = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'rpm-reader.py'])
      .toString()
      .trim()
      .split('\n')
      .map(Number);
    expect(pids.length).toBeGreaterThan(0);
    // each reader's private rpmdb, its last argument: a killed reader cannot remove it, its parent does
    const rpmdbs = pids.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1)!);
    for (const d of rpmdbs) expect(existsSync(d)).toBe(true);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const settled = await Promise.allSettled(asked);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toBeInstanceOf(ToolError);
    expect((await readRpm(pk.rpms[1]!.path)).header).toContain(`name=${pk.rpms[1]!.name}\n`);
    await vi.waitFor(() => expect(rpmdbs.filter((d) => existsSync(d))).toEqual([]));
  });

  it('an idle reader does not keep its process alive', async () => {
    const script = join(root, 'idle.mts');
    await writeFile(
      script,
      `import { readRpm } from ${JSON.stringify(join(import.meta.dirname, '../../../services/storage/rpm-reader.ts'))};\n` +
        `const r = await readRpm(${JSON.stringify(pk.rpms[0]!.path)});\nconsole.log(r.header ? 'read' : 'not read');\n`,
    );
    const { stdout } = await exec(process.execPath, [script], { timeout: 30_000 });
    expect(stdout.trim()).toBe('read');
  });
});
