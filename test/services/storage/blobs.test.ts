import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRdError } from '../../../services/errors.ts';
import { BlobStore, blobMtime, sha256File } from '../../../services/storage/blobs.ts';

let root: string;
let store: BlobStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-blobs-'));
  store = new BlobStore(join(root, 'storage'));
  await store.init();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A temp file under STORAGE_DIR/tmp, the way the downloader leaves it: already hashed. */
async function download(bytes: Buffer): Promise<{ path: string; sha256: string; size: number }> {
  const path = store.tempPath('test');
  await writeFile(path, bytes, { mode: 0o600 });
  return { path, ...(await sha256File(path)) };
}

describe('BlobStore', () => {
  it('hashes a file once with sha256File', async () => {
    const path = join(root, 'hello');
    await writeFile(path, 'hello\n');
    expect(await sha256File(path)).toEqual({ sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', size: 6 });
  });

  it('adopts a file at blobs/<aa>/<sha256>, read-only, and drops the temp file', async () => {
    const f = await download(randomBytes(5000));
    const r = await store.adopt(f.path, f.sha256, f.size);
    expect(r).toEqual({ path: join(store.blobsDir, f.sha256.slice(0, 2), f.sha256), existed: false });
    expect(store.path(f.sha256)).toBe(r.path);
    const st = await stat(r.path);
    expect(st.mode & 0o777).toBe(0o444);
    expect(st.size).toBe(f.size);
    expect(Math.floor(st.mtimeMs / 1000)).toBe(blobMtime(f.sha256));
    expect(existsSync(f.path)).toBe(false);
    expect(await store.has(f.sha256)).toBe(true);
  });

  it('is idempotent: adopting the same content again keeps the stored inode', async () => {
    const bytes = randomBytes(3000);
    const a = await download(bytes);
    await store.adopt(a.path, a.sha256, a.size);
    const ino = (await stat(store.path(a.sha256))).ino;
    const b = await download(bytes);
    expect(await store.adopt(b.path, b.sha256, b.size)).toMatchObject({ existed: true });
    expect((await stat(store.path(a.sha256))).ino).toBe(ino);
    expect(existsSync(b.path)).toBe(false);
    expect(await readdir(store.tmpDir)).toEqual([]);
  });

  it('adoptAll stores a release at once: new blobs read-only, the same content twice stored once, one already stored kept', async () => {
    const kept = await download(randomBytes(700));
    await store.adopt(kept.path, kept.sha256, kept.size);
    const keptIno = (await stat(store.path(kept.sha256))).ino;
    const same = randomBytes(900);
    const files = [
      await download(randomBytes(800)),
      await download(same),
      await download(same),
      await download(await readFile(store.path(kept.sha256))),
    ];
    const got = await store.adoptAll(
      files.map((f) => ({ file: f.path, sha256: f.sha256, size: f.size })),
      [kept.sha256],
    );
    expect(got.map((g) => g.existed)).toEqual([false, false, true, true]);
    for (const [i, f] of files.entries()) {
      expect(got[i]!.path).toBe(store.path(f.sha256));
      const st = await stat(got[i]!.path);
      expect([st.mode & 0o777, st.size, Math.floor(st.mtimeMs / 1000)]).toEqual([0o444, f.size, blobMtime(f.sha256)]);
      expect(existsSync(f.path)).toBe(false);
    }
    expect((await stat(store.path(kept.sha256))).ino).toBe(keptIno);
    expect(await readdir(store.tmpDir)).toEqual([]);
    expect(await store.adoptAll([])).toEqual([]);
  });

  it('seal makes an open file what adoptAll (1) makes it, and adoptAll leaves a file staged as sealed as it is', async () => {
    const f = await download(randomBytes(600));
    const fd = openSync(f.path, 'r+');
    await store.seal(fd, f.sha256);
    closeSync(fd);
    let st = await stat(f.path);
    expect([st.mode & 0o777, Math.floor(st.mtimeMs / 1000)]).toEqual([0o444, blobMtime(f.sha256)]);
    // (1) is not done again: a file said to be sealed that is not keeps its mode (a caller's promise, trusted)
    const unsealed = await download(randomBytes(650));
    await store.adoptAll([
      { file: f.path, sha256: f.sha256, size: f.size, sealed: true },
      { file: unsealed.path, sha256: unsealed.sha256, size: unsealed.size, sealed: true },
    ]);
    st = await stat(store.path(f.sha256));
    expect([st.mode & 0o777, Math.floor(st.mtimeMs / 1000)]).toEqual([0o444, blobMtime(f.sha256)]);
    expect((await stat(store.path(unsealed.sha256))).mode & 0o777).toBe(0o600);
  });

  it('adoptAll checks every size before it stores anything', async () => {
    const good = await download(randomBytes(20));
    const bad = await download(randomBytes(10));
    await expect(
      store.adoptAll([
        { file: good.path, sha256: good.sha256, size: good.size },
        { file: bad.path, sha256: bad.sha256, size: 11 },
      ]),
    ).rejects.toMatchObject({ code: 'RD_INTERNAL' });
    expect(await store.has(good.sha256)).toBe(false);
    await Promise.all([rm(good.path), rm(bad.path)]);
  });

  it('refuses a size that disagrees with the file and a non-digest name', async () => {
    const f = await download(randomBytes(10));
    await expect(store.adopt(f.path, f.sha256, 11)).rejects.toMatchObject({ code: 'RD_INTERNAL' });
    expect(() => store.path('../../etc/passwd')).toThrow(/not a sha256 digest/);
    expect(await store.has('0'.repeat(64))).toBe(false);
    await rm(f.path);
  });

  // /dev/shm is a tmpfs here: link() gives EXDEV, so adopt copies and linkInto falls back to a copy.
  const otherFs = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

  it('adopts a file from another filesystem (a bundle unpacked elsewhere)', async () => {
    const dir = await mkdtemp(join(otherFs, 'rd-bundle-'));
    const path = join(dir, 'pkg.rpm');
    await writeFile(path, randomBytes(100));
    const { sha256, size } = await sha256File(path);
    await store.adopt(path, sha256, size);
    expect(await sha256File(store.path(sha256))).toEqual({ sha256, size });
    expect(existsSync(path)).toBe(false);
    expect(await readdir(store.tmpDir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('linkInto copies (read-only) only when a hard link is impossible', async () => {
    const f = await download(randomBytes(64));
    await store.adopt(f.path, f.sha256, f.size);
    const dir = await mkdtemp(join(otherFs, 'rd-repo-'));
    await store.linkInto(f.sha256, join(dir, 'x.rpm'));
    expect(await sha256File(join(dir, 'x.rpm'))).toEqual({ sha256: f.sha256, size: 64 });
    expect((await stat(join(dir, 'x.rpm'))).mode & 0o777).toBe(0o444);
    await rm(dir, { recursive: true });
  });

  it('links a blob into a repository: same inode, and a second link is a no-op', async () => {
    const f = await download(randomBytes(2000));
    await store.adopt(f.path, f.sha256, f.size);
    const dest = join(root, 'repo-x', 'foo-1.0-1.noarch.rpm');
    await mkdir(join(root, 'repo-x'), { recursive: true });
    await store.linkInto(f.sha256, dest);
    await store.linkInto(f.sha256, dest);
    expect((await stat(dest)).ino).toBe((await stat(store.path(f.sha256))).ino);
    expect((await stat(dest)).nlink).toBe(2);
  });

  it('a missing blob is an internal error naming the digest, not a silent empty file', async () => {
    const sha = 'ab'.repeat(32);
    const err = await store.linkInto(sha, join(root, 'missing.rpm')).catch((e: unknown) => e);
    expect(isRdError(err) && err.code === 'RD_INTERNAL' && err.message.includes(sha)).toBe(true);
    expect(existsSync(join(root, 'missing.rpm'))).toBe(false);
  });

  it('linkInto refuses to replace a different file that already has the name', async () => {
    const f = await download(randomBytes(50));
    await store.adopt(f.path, f.sha256, f.size);
    const dest = join(root, 'taken.rpm');
    await writeFile(dest, 'other');
    await expect(store.linkInto(f.sha256, dest)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(dest, 'utf8')).toBe('other');
  });
});
