import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, sha256File } from '../../../../services/storage/blobs.ts';
import { blobKey } from '../../../../services/storage/objects/blob-copies.ts';
import { FsObjectStore } from '../../../../services/storage/objects/fs-store.ts';
import type { ObjectStore } from '../../../../services/storage/objects/store.ts';
import { fails } from '../../../support/errors.ts';

let root: string;
let store: FsObjectStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-objects-'));
  await mkdir(join(root, 'store'));
  store = new FsObjectStore(join(root, 'store'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fileOf(bytes: Buffer): Promise<{ file: string; sha256: string; size: number }> {
  const file = join(root, `in-${randomBytes(4).toString('hex')}`);
  await writeFile(file, bytes);
  return { file, ...(await sha256File(file)) };
}

describe('FsObjectStore', () => {
  it('puts, heads, gets, lists and deletes an object with its sha256', async () => {
    const f = await fileOf(randomBytes(10_000));
    await store.put('a/b/one', f.file, f);
    expect(await store.head('a/b/one')).toEqual({ size: f.size, sha256: f.sha256 });
    const dest = join(root, 'got');
    expect(await store.get('a/b/one', dest)).toEqual({ sha256: f.sha256, size: f.size });
    expect(await readFile(dest)).toEqual(await readFile(f.file));
    expect(await store.list('a/')).toEqual([{ key: 'a/b/one', size: f.size }]);
    expect(await store.list('b/')).toEqual([]);
    await store.delete('a/b/one');
    expect(await store.head('a/b/one')).toBeNull();
    expect(await store.get('a/b/one', join(root, 'none'))).toBeNull();
    await store.delete('a/b/one'); // absent: not an error
  });

  it('refuses an object whose bytes are not what its sha256 says, naming the key, and leaves no file', async () => {
    const f = await fileOf(randomBytes(2_000));
    await store.put('bad', f.file, f);
    await writeFile(join(root, 'store', 'data', 'bad'), randomBytes(2_000)); // the bytes change under it
    const dest = join(root, 'bad-got');
    const e = await fails(store.get('bad', dest), 'RD_STORE_CORRUPT');
    expect(e.message).toContain('object bad');
    expect(existsSync(dest)).toBe(false);
  });

  it('is unavailable, not recreated, when its directory is away (a mount that is gone)', async () => {
    const away = new FsObjectStore(join(root, 'unmounted'));
    const f = await fileOf(randomBytes(100));
    await fails(away.put('k', f.file, f), 'RD_STORE_UNAVAILABLE');
    await fails(away.ping(), 'RD_STORE_UNAVAILABLE');
    await fails(away.delete('k'), 'RD_STORE_UNAVAILABLE'); // not an absent key deleted: the object may be there
    expect(existsSync(join(root, 'unmounted'))).toBe(false);
  });
});

/** Counts the puts of a store: what "sent once" means. */
function counting(inner: ObjectStore): ObjectStore & { puts: string[] } {
  const puts: string[] = [];
  return Object.assign(Object.create(inner) as ObjectStore, {
    puts,
    put: (key: string, file: string, d: { sha256: string; size: number }) => {
      puts.push(key);
      return inner.put(key, file, d);
    },
  });
}

describe('BlobStore backed by an object store', () => {
  it('puts what it adopts once, and a second STORAGE_DIR gets it from there to link it', async () => {
    const shared = counting(new FsObjectStore(join(root, 'store')));
    const first = new BlobStore(join(root, 'first'), shared);
    const second = new BlobStore(join(root, 'second'), shared);
    await Promise.all([first.init(), second.init()]);
    const bytes = randomBytes(4_000);
    const a = await fileOf(bytes);
    const staged = first.tempPath('t');
    await writeFile(staged, bytes);
    await first.adopt(staged, a.sha256, a.size);
    expect(await shared.head(blobKey(a.sha256))).toEqual({ size: a.size, sha256: a.sha256 });
    const again = first.tempPath('t');
    await writeFile(again, bytes);
    await first.adopt(again, a.sha256, a.size);
    await first.adoptAll([], [a.sha256]);
    expect(shared.puts).toEqual([blobKey(a.sha256)]);

    expect(await second.has(a.sha256)).toBe(false);
    expect(await second.storedSize(a.sha256)).toBe(a.size);
    await mkdir(join(root, 'repo'));
    await second.linkInto(a.sha256, join(root, 'repo', 'pkg.rpm'));
    expect(await readFile(join(root, 'repo', 'pkg.rpm'))).toEqual(bytes);
    // the blob is now in the second STORAGE_DIR, read-only, and the repository entry is a hard link to it
    const [blob, entry] = await Promise.all([stat(second.path(a.sha256)), stat(join(root, 'repo', 'pkg.rpm'))]);
    expect(blob.ino).toBe(entry.ino);
    expect(blob.mode & 0o777).toBe(0o444);
    expect(shared.puts).toHaveLength(1);
  });

  it('puts a blob found already stored that the object store lacks (a crash between adopting and putting)', async () => {
    const shared = new FsObjectStore(join(root, 'store'));
    const local = new BlobStore(join(root, 'crashed'));
    await local.init();
    const f = await fileOf(randomBytes(3_000));
    await local.adopt(f.file, f.sha256, f.size); // adopted without the object store
    const backed = new BlobStore(join(root, 'crashed'), shared);
    await backed.adoptAll([], [f.sha256]);
    expect(await shared.head(blobKey(f.sha256))).toEqual({ size: f.size, sha256: f.sha256 });
  });

  it('says a blob neither has is not there, as without an object store', async () => {
    const blobs = new BlobStore(join(root, 'third'), new FsObjectStore(join(root, 'store')));
    await blobs.init();
    const sha = 'f'.repeat(64);
    expect(await blobs.storedSize(sha)).toBeNull();
    expect((await fails(blobs.linkInto(sha, join(root, 'nowhere')), 'RD_INTERNAL')).message).toContain('is not in the store');
  });

  it('says a blob whose object records another sha256 is corrupt, not missing (missing is permanent)', async () => {
    const shared = new FsObjectStore(join(root, 'store'));
    const blobs = new BlobStore(join(root, 'fourth'), shared);
    await blobs.init();
    const other = await fileOf(randomBytes(50));
    const sha = 'e'.repeat(64);
    await shared.put(blobKey(sha), other.file, other);
    expect((await fails(blobs.storedSize(sha), 'RD_STORE_CORRUPT')).message).toContain(blobKey(sha));
    await fails(blobs.local(sha), 'RD_STORE_CORRUPT');
    expect(await blobs.has(sha)).toBe(false);
  });
});
