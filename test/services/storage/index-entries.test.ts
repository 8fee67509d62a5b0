/**
 * APT index entries against apt-ftparchive's own output on the same pool layout: each stanza byte for byte as
 * apt-ftparchive writes it with SHA256 as its only digest (the digest the store names a package by), on the
 * test packages and the odd shapes it reads. And no package is read again for them: apt-ftparchive reads the
 * control member of a large package, not its data. (The YUM elements are held to createrepo_c in rpm-reader.test.ts.)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { poolHref } from '../../../services/storage/dist-ref.ts';
import { makeIndexEntries } from '../../../services/storage/index-entries.ts';
import { buildOddFiles } from '../../support/odd-packages.ts';
import { buildTestPackages } from '../../support/packages.ts';

const exec = promisify(execFile);
let root: string;
let blobs: BlobStore;
const opts = () => ({ tmpDir: join(root, 'store', 'tmp'), timeoutMs: 60_000 });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-index-entries-'));
  blobs = new BlobStore(join(root, 'store'));
  await blobs.init();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Files into the store, as a release's bytes arrive: named by their sha256. */
async function stored(files: string[]): Promise<Array<{ sha256: string; filename: string }>> {
  return Promise.all(
    files.map(async (f) => {
      const bytes = await readFile(f);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const tmp = blobs.tempPath('test');
      await copyFile(f, tmp);
      await blobs.adopt(tmp, sha256, bytes.length);
      return { sha256, filename: basename(f) };
    }),
  );
}

/** What this process and the children it reaped have read through read(). */
const reads = () => Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

describe('makeIndexEntries (apt)', () => {
  it('gives the stanzas apt-ftparchive writes with SHA256 alone, byte for byte', async () => {
    const pk = await buildTestPackages(join(root, 'pkgs'), 6);
    const odd = await buildOddFiles(join(root, 'odd'), { rpm: pk.rpm('testpkg-dep').path, deb: pk.deb('testpkg-dep').path });
    const oddDebs = odd.filter((o) => o.format === 'deb' && existsSync(o.path)).map((o) => o.path);
    const pkgs = await stored([...pk.debs.map((d) => d.path), ...oddDebs]);
    // apt-ftparchive over the pool layout the entries name, its digests all off but SHA256
    const pool = join(root, 'reference');
    for (const p of pkgs) {
      await mkdir(dirname(join(pool, poolHref(p.sha256, p.filename))), { recursive: true });
      await copyFile(blobs.path(p.sha256), join(pool, poolHref(p.sha256, p.filename)));
    }
    const only256 = ['MD5', 'SHA1', 'SHA512'].flatMap((h) => ['-o', `APT::FTPArchive::${h}=false`]);
    const { stdout } = await exec('apt-ftparchive', [...only256, 'packages', 'pool'], { cwd: pool });
    const want = new Map(
      stdout
        .split(/\n{2,}/)
        .filter((s) => s.trim())
        .map((s) => [/^Filename: (.+)$/m.exec(s)![1]!, `${s.trim()}\n\n`]),
    );
    const readable = pkgs.filter((p) => want.has(poolHref(p.sha256, p.filename)));
    expect(readable.length).toBeGreaterThan(pk.debs.length);
    const got = await makeIndexEntries(join(root, 'store'), 'apt', readable, opts());
    for (const [i, p] of readable.entries()) {
      const stanza = gunzipSync(got[i]!.parts[0]!).toString('utf8');
      expect({ file: p.filename, stanza }).toEqual({ file: p.filename, stanza: want.get(poolHref(p.sha256, p.filename)) });
      expect(stanza).toContain(`\nSHA256: ${p.sha256}\n`);
    }
  });

  it('reads the control member of a large package, not its data', async () => {
    const big = await buildTestPackages(join(root, 'big'), 3, { payloadKb: 8192 });
    const deb = big.debs[0]!.path;
    const size = (await stat(deb)).size;
    expect(size).toBeGreaterThan(4 * 2 ** 20);
    const [p] = await stored([deb]);
    const before = reads();
    const [entry] = await makeIndexEntries(join(root, 'store'), 'apt', [p!], opts());
    const read = reads() - before;
    expect(gunzipSync(entry!.parts[0]!).toString('utf8')).toContain(`\nSize: ${size}\nSHA256: ${p!.sha256}\n`);
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(size / 8);
    // apt-ftparchive computing its digests reads the whole package: what the bound above tells apart
    const before2 = reads();
    await exec('apt-ftparchive', ['packages', dirname(deb)]);
    expect(reads() - before2).toBeGreaterThan(size);
  });
});
