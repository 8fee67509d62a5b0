import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, fchmodSync, fstatSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findPackageFiles, unpackBundle, unpackStream } from '../../../services/artifacts/unpack.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RdError } from '../../../services/errors.ts';
import { fails } from '../../support/errors.ts';
import { Header } from 'tar';
import { entry, tarOf } from '../../support/tar.ts';

const LIMITS = { maxEntries: 100, maxBytes: 10 * 2 ** 20 };
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

let root: string; // holds bundle.tar.gz and dest/; nothing else may ever appear here
let bundle: string;
let dest: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-unpack-'));
  bundle = join(root, 'bundle.tar.gz');
  dest = join(root, 'dest');
  await mkdir(dest);
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** Refused: dest is empty, and root still holds only what the test put there. */
async function expectNothingWritten() {
  expect(await readdir(dest)).toEqual([]);
  expect((await readdir(root)).sort()).toEqual(['bundle.tar.gz', 'dest']);
}

async function refuses(gz: Buffer, code: RdError['code'], limits = LIMITS): Promise<RdError> {
  await writeFile(bundle, gz);
  const e = await fails(unpackBundle(bundle, dest, limits), code);
  await expectNothingWritten();
  return e;
}

describe('unpackBundle: a good bundle', () => {
  it('writes files 0644 and directories 0755 whatever the archive says, and lists the files', async () => {
    const src = join(root, 'src');
    await mkdir(join(src, 'rpm'), { recursive: true });
    await mkdir(join(src, 'deb'));
    const rpm = randomBytes(5000);
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.rpm`; // needs a pax header
    await writeFile(join(src, 'rpm', 'a-1.0-1.x86_64.rpm'), rpm);
    await writeFile(join(src, 'deb', 'a_1.0-1_amd64.deb'), 'deb');
    await mkdir(join(src, 'd'.repeat(120)));
    await writeFile(join(src, long), 'long');
    await writeFile(join(src, 'README'), 'hello');
    await chmod(join(src, 'rpm', 'a-1.0-1.x86_64.rpm'), 0o4777);
    await chmod(join(src, 'README'), 0o600);
    await chmod(join(src, 'deb'), 0o700);
    await tar.c({ gzip: true, file: bundle, cwd: src, portable: true }, ['.']);
    await rm(src, { recursive: true });

    const { files } = await unpackBundle(bundle, dest, LIMITS);
    expect(files.map((f) => f.path).sort()).toEqual(['README', 'deb/a_1.0-1_amd64.deb', long, 'rpm/a-1.0-1.x86_64.rpm'].sort());
    expect(files.find((f) => f.path === 'rpm/a-1.0-1.x86_64.rpm')).toEqual({
      path: 'rpm/a-1.0-1.x86_64.rpm',
      size: 5000,
      sha256: sha256(rpm),
    });
    expect(files.find((f) => f.path === long)?.sha256).toBe(sha256('long'));
    expect(await readFile(join(dest, 'rpm', 'a-1.0-1.x86_64.rpm'))).toEqual(rpm);
    expect(await readFile(join(dest, long), 'utf8')).toBe('long');
    for (const f of files) expect((await stat(join(dest, f.path))).mode & 0o7777).toBe(0o644);
    for (const d of ['rpm', 'deb', 'd'.repeat(120)]) expect((await stat(join(dest, d))).mode & 0o7777).toBe(0o755);
    expect((await readdir(root)).sort()).toEqual(['bundle.tar.gz', 'dest']);
  });

  it('reads a bundle made by the tar command line (GNU format)', async () => {
    const src = join(root, 'src');
    await mkdir(join(src, 'rpm'), { recursive: true });
    await writeFile(join(src, 'rpm', `${'x'.repeat(150)}.rpm`), 'x');
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['--format=gnu', '-czf', bundle, '-C', src, 'rpm']);
    await rm(src, { recursive: true });
    const { files } = await unpackBundle(bundle, dest, LIMITS);
    expect(files).toEqual([{ path: `rpm/${'x'.repeat(150)}.rpm`, size: 1, sha256: sha256('x') }]);
  });

  it('replaces what an interrupted earlier attempt left in destDir, and creates a missing destDir', async () => {
    await writeFile(bundle, gzipSync(tarOf(entry({ path: 'a.rpm', body: 'new' }))));
    await writeFile(join(dest, 'a.rpm'), 'half-written');
    await mkdir(join(dest, 'stale'));
    expect((await unpackBundle(bundle, dest, LIMITS)).files).toEqual([{ path: 'a.rpm', size: 3, sha256: sha256('new') }]);
    expect(await readdir(dest)).toEqual(['a.rpm']);
    expect(await readFile(join(dest, 'a.rpm'), 'utf8')).toBe('new');
    const fresh = join(dest, 'sub', 'fresh');
    await unpackBundle(bundle, fresh, LIMITS);
    expect(await readdir(fresh)).toEqual(['a.rpm']);
  });
});

describe('unpackStream with a seal', () => {
  it('hands each file to the seal whole, with its digest, before closing it; eight files open at most', async () => {
    const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i));
    await writeFile(bundle, gzipSync(tarOf(...bodies.map((body, i) => entry({ path: `p/${i}.rpm`, body })))));
    const seen: Array<{ rel: string; sha256: string; read: string }> = [];
    let open = 0;
    let most = 0;
    const { files } = await unpackStream(createReadStream(bundle), dest, LIMITS, 'stop', async (fd, digest, rel) => {
      most = Math.max(most, ++open);
      await sleep(3); // a disk's fsync: the next files arrive meanwhile
      const { size } = fstatSync(fd); // the file is still open: a closed one would throw
      const bytes = await readFile(join(dest, rel));
      expect(bytes.length).toBe(size);
      seen.push({ rel, sha256: digest, read: sha256(bytes) });
      open--;
      return false;
    });
    expect(seen.map((s) => s.rel).sort()).toEqual(files.map((f) => f.path).sort());
    for (const s of seen) expect(s.read).toBe(s.sha256);
    expect(files.map((f) => f.sha256)).toEqual(bodies.map((b) => sha256(b)));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
  });

  it('a file the seal took keeps the mode it gave; one it left gets 0644', async () => {
    await writeFile(bundle, gzipSync(tarOf(entry({ path: 'a.rpm', body: 'a' }), entry({ path: 'notes.txt', body: 'b' }))));
    await unpackStream(createReadStream(bundle), dest, LIMITS, 'stop', async (fd, _sha, rel) => {
      if (rel !== 'a.rpm') return false;
      fchmodSync(fd, 0o400);
      return true;
    });
    expect((await stat(join(dest, 'a.rpm'))).mode & 0o777).toBe(0o400);
    expect((await stat(join(dest, 'notes.txt'))).mode & 0o777).toBe(0o644);
  });

  it('a seal that fails fails the bundle, and nothing stays', async () => {
    await writeFile(bundle, gzipSync(tarOf(entry({ path: 'a.rpm', body: 'a' }), entry({ path: 'b.rpm', body: 'b' }))));
    const disk = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', syscall: 'fsync' });
    const seal = async (_fh: unknown, _sha: string, rel: string) => {
      if (rel === 'b.rpm') throw disk;
      return false;
    };
    await expect(unpackStream(createReadStream(bundle), dest, LIMITS, 'stop', seal)).rejects.toBe(disk);
    await expectNothingWritten();
  });
});

describe('unpackBundle: unsafe entries are refused, naming the entry', () => {
  const cases: Array<[string, Buffer[], string]> = [
    ['a ../ path', [entry({ path: '../evil', body: 'x' })], 'bundle entry "../evil" has a ".." path segment'],
    [
      'a ../ inside the path',
      [entry({ path: 'rpm/', type: 'Directory' }), entry({ path: 'rpm/../../evil', body: 'x' })],
      '"rpm/../../evil" has a ".." path segment',
    ],
    ['an absolute path', [entry({ path: '/tmp/rd-evil-abs', body: 'x' })], '"/tmp/rd-evil-abs" has an absolute path'],
    ['a symlink', [entry({ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' })], '"link" is a symbolic link (to "/etc/passwd")'],
    [
      'a symlink then a file through it',
      [entry({ path: 'l', type: 'SymbolicLink', linkpath: '/tmp' }), entry({ path: 'l/x', body: 'x' })],
      '"l" is a symbolic link',
    ],
    ['a hard link', [entry({ path: 'a', body: 'x' }), entry({ path: 'b', type: 'Link', linkpath: 'a' })], '"b" is a hard link'],
    ['a character device', [entry({ path: 'null', type: 'CharacterDevice', devmaj: 1, devmin: 3 })], '"null" is a character device'],
    ['a block device', [entry({ path: 'sda', type: 'BlockDevice', devmaj: 8, devmin: 0 })], '"sda" is a block device'],
    ['a FIFO', [entry({ path: 'pipe', type: 'FIFO' })], '"pipe" is a FIFO'],
    ['an unsupported type', [entry({ path: 'dump', type: 'GNUDumpDir' })], '"dump" has the unsupported tar type GNUDumpDir'],
    [
      'a name too long for the file system',
      [entry({ path: `rpm/${'n'.repeat(256)}`, body: 'x' })],
      'has a path too long for the file system',
    ],
    [
      'a duplicate file',
      [entry({ path: 'rpm/a.rpm', body: '1' }), entry({ path: './rpm/a.rpm', body: '2' })],
      '"./rpm/a.rpm" appears more than once',
    ],
    [
      'a duplicate directory',
      [entry({ path: 'rpm/', type: 'Directory' }), entry({ path: 'rpm', type: 'Directory' })],
      '"rpm" appears more than once',
    ],
    ['a file used as a directory', [entry({ path: 'rpm', body: 'x' }), entry({ path: 'rpm/a.rpm', body: 'y' })], 'which is a file'],
    [
      'a directory replaced by a file',
      [entry({ path: 'rpm/a.rpm', body: 'y' }), entry({ path: 'rpm', body: 'x' })],
      '"rpm" is a file where other entries need a directory',
    ],
  ];
  it.each(cases)('%s', async (_what, entries, message) => {
    // a good entry first, so that a one-pass extractor would already have written something
    const e = await refuses(gzipSync(tarOf(entry({ path: 'ok.rpm', body: 'fine' }), ...entries)), 'RD_BUNDLE_UNSAFE');
    expect(e.message).toContain(message);
    expect(existsSync('/tmp/rd-evil-abs')).toBe(false);
    expect(existsSync(join(root, 'evil'))).toBe(false);
  });

  it('shows an entry name cut at 120 characters and escaped, and keeps it whole in the details', async () => {
    const long = `rpm/${'d/'.repeat(100)}../x`;
    const e = await refuses(gzipSync(tarOf(entry({ path: long, body: 'x' }))), 'RD_BUNDLE_UNSAFE');
    expect(e.message).toBe(`bundle entry "${long.slice(0, 117)}..." has a ".." path segment`);
    expect(e.details).toMatchObject({ entry: long });
    const bidi = await refuses(gzipSync(tarOf(entry({ path: 'rpm/\u202egpj.rpm', type: 'FIFO' }))), 'RD_BUNDLE_UNSAFE');
    expect(bidi.message).toBe('bundle entry "rpm/\\u202egpj.rpm" is a FIFO');
  });

  it('a symlink found by the tar command line', async () => {
    const src = join(root, 'src');
    await mkdir(src);
    const { execFileSync } = await import('node:child_process');
    execFileSync('ln', ['-s', '/etc/passwd', join(src, 'passwd')]);
    execFileSync('tar', ['-czf', bundle, '-C', src, 'passwd']);
    await rm(src, { recursive: true });
    const e = await fails(unpackBundle(bundle, dest, LIMITS), 'RD_BUNDLE_UNSAFE');
    expect(e.details).toMatchObject({ entry: 'passwd' });
    await expectNothingWritten();
  });
});

describe('unpackBundle: limits and bombs', () => {
  it('too many entries', async () => {
    const many = Array.from({ length: 11 }, (_, i) => entry({ path: `f${i}`, body: 'x' }));
    const e = await refuses(gzipSync(tarOf(...many)), 'RD_BUNDLE_LIMIT', { maxEntries: 10, maxBytes: 2 ** 20 });
    expect(e.message).toBe('the bundle has more than 10 entries');
  });

  it('too many bytes once unpacked', async () => {
    const big = Buffer.alloc(600_000, 1);
    const e = await refuses(gzipSync(tarOf(entry({ path: 'a', body: big }), entry({ path: 'b', body: big }))), 'RD_BUNDLE_LIMIT', {
      maxEntries: 10,
      maxBytes: 1_000_000,
    });
    expect(e.message).toContain('unpacks to more than 1000000 bytes (at "b")');
  });

  it('a gzip bomb (1 GiB of zeros in a few MB) stops at the header, fast and in little memory', async () => {
    // gunzip reads concatenated members as one stream: 16 x 64 MiB of zeros
    const header = Buffer.alloc(512);
    new Header({ path: 'zeros', type: 'File', size: 2 ** 30, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
    const member = gzipSync(Buffer.alloc(64 * 2 ** 20), { level: 9 });
    await writeFile(bundle, Buffer.concat([gzipSync(header), ...Array.from({ length: 16 }, () => member)]));
    const rss = process.memoryUsage().rss;
    const t0 = Date.now();
    const e = await fails(unpackBundle(bundle, dest, LIMITS), 'RD_BUNDLE_LIMIT');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(e.message).toContain('(at "zeros")');
    await expectNothingWritten();
  });

  it('a bomb of metadata headers that never reach an entry is stopped by the decompressed-bytes cap', async () => {
    const pax = entry({ path: 'PaxHeader/x', type: 'ExtendedHeader', body: Buffer.alloc(60_000) });
    const gz = gzipSync(Buffer.concat(Array.from({ length: 200 }, () => pax)));
    expect(gz.length).toBeLessThan(200_000);
    const e = await refuses(gz, 'RD_BUNDLE_LIMIT', { maxEntries: 10, maxBytes: 2 ** 20 });
    expect(e.message).toContain('unpacks to more than 1048576 bytes');
  });

  it('an oversized metadata header is refused', async () => {
    const pax = entry({ path: 'PaxHeader/x', type: 'ExtendedHeader', body: Buffer.alloc(100_000, 0x41) });
    await refuses(gzipSync(tarOf(pax, entry({ path: 'a', body: 'x' }))), 'RD_BUNDLE_CORRUPT');
  });

  it('stops reading at the end-of-archive marker (trailing zeros are never decompressed)', async () => {
    const member = gzipSync(Buffer.alloc(64 * 2 ** 20), { level: 9 });
    await writeFile(
      bundle,
      Buffer.concat([gzipSync(tarOf(entry({ path: 'a.rpm', body: 'x' }))), ...Array.from({ length: 32 }, () => member)]),
    );
    const t0 = Date.now();
    expect((await unpackBundle(bundle, dest, LIMITS)).files).toEqual([{ path: 'a.rpm', size: 1, sha256: sha256('x') }]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('unpackBundle: unreadable archives', () => {
  const good = () =>
    gzipSync(tarOf(entry({ path: 'a.rpm', body: randomBytes(20_000) }), entry({ path: 'b.rpm', body: randomBytes(20_000) })));

  it('a truncated gzip', async () => {
    const gz = good();
    const e = await refuses(gz.subarray(0, gz.length >> 1), 'RD_BUNDLE_CORRUPT');
    expect(e.message).toContain('gzip');
  });

  it('a tar cut in the middle of a file, properly gzipped', async () => {
    const raw = tarOf(entry({ path: 'a.rpm', body: Buffer.alloc(20_000, 1) }));
    await refuses(gzipSync(raw.subarray(0, 10_000)), 'RD_BUNDLE_CORRUPT');
  });

  it('a plain tar (not gzip)', async () => {
    await refuses(tarOf(entry({ path: 'a.rpm', body: 'x' })), 'RD_BUNDLE_CORRUPT');
  });

  it('random bytes', async () => {
    await refuses(randomBytes(4096), 'RD_BUNDLE_CORRUPT');
  });

  it('gzip around something that is not tar', async () => {
    await refuses(gzipSync(randomBytes(4096)), 'RD_BUNDLE_CORRUPT');
  });

  it('a header with a bad checksum', async () => {
    const raw = tarOf(entry({ path: 'a.rpm', body: 'x' }));
    raw[0] = 'b'.charCodeAt(0);
    await refuses(gzipSync(raw), 'RD_BUNDLE_CORRUPT');
  });

  it('a tar.gz inside the gzip (double compression) is not unpacked twice', async () => {
    await refuses(gzipSync(good()), 'RD_BUNDLE_CORRUPT');
  });
});

describe('findPackageFiles', () => {
  const files = [
    { path: 'rpm/a-1.0-1.x86_64.rpm', size: 1 },
    { path: 'deb/a_1.0-1_amd64.deb', size: 2 },
    { path: 'README', size: 3 },
  ];

  it('maps each filename to the entry with that basename and returns the rest as extras', () => {
    expect(findPackageFiles(files, ['a_1.0-1_amd64.deb', 'a-1.0-1.x86_64.rpm'])).toEqual({
      found: { 'a_1.0-1_amd64.deb': 'deb/a_1.0-1_amd64.deb', 'a-1.0-1.x86_64.rpm': 'rpm/a-1.0-1.x86_64.rpm' },
      extras: ['README'],
    });
  });

  it('names every missing package', () => {
    const e = (() => {
      try {
        findPackageFiles(files, ['a-1.0-1.x86_64.rpm', 'b.rpm', 'c.deb']);
      } catch (err) {
        return err as RdError;
      }
    })();
    expect(e?.code).toBe('RD_PACKAGE_MISSING');
    expect(e?.message).toBe('not in the bundle: b.rpm, c.deb');
    expect(e?.details).toEqual({ missing: ['b.rpm', 'c.deb'] });
  });

  it('refuses a filename that two entries share', () => {
    expect(() => findPackageFiles([...files, { path: 'old/a-1.0-1.x86_64.rpm', size: 1 }], ['a-1.0-1.x86_64.rpm'])).toThrow(
      /is ambiguous: rpm\/a-1.0-1.x86_64.rpm, old\/a-1.0-1.x86_64.rpm/,
    );
  });
});
