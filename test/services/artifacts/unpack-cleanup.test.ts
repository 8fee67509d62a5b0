import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

// A disk error in the middle of pass 2 (the listing passed): the write of "rpm/boom.rpm" fails.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const openSync = ((path: string, ...rest: unknown[]) =>
    fs.openSync(String(path).endsWith('boom.rpm') ? '/nonexistent/boom.rpm' : path, ...(rest as [string]))) as typeof fs.openSync;
  return { ...fs, default: { ...fs, openSync }, openSync };
});
const { unpackBundle } = await import('../../../services/artifacts/unpack.ts');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-unpack-io-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

function file(path: string, body: string): Buffer {
  const header = Buffer.alloc(512);
  new Header({ path, type: 'File', size: body.length, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
  return Buffer.concat([header, Buffer.from(body), Buffer.alloc(512 - body.length)]);
}

it('removes everything it wrote when a write fails half-way, and passes the I/O error on', async () => {
  const bundle = join(root, 'bundle.tar.gz');
  const dest = join(root, 'dest');
  await mkdir(dest);
  await writeFile(
    bundle,
    gzipSync(
      Buffer.concat([file('a.rpm', 'a'), file('rpm/b.rpm', 'b'), file('rpm/boom.rpm', 'c'), file('z.rpm', 'z'), Buffer.alloc(1024)]),
    ),
  );
  const e = await unpackBundle(bundle, dest, { maxEntries: 10, maxBytes: 1000 }).catch((err: unknown) => err);
  expect(e).toMatchObject({ code: 'ENOENT' });
  expect(await readdir(dest)).toEqual([]);
  expect((await readdir(root)).sort()).toEqual(['bundle.tar.gz', 'dest']);
});
