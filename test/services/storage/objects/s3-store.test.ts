/**
 * The object store against a real OpenStack Swift with s3api (startPrivateSwift), never a stand-in: what
 * Swift's S3 answers (metadata, multipart, 404s, a proxy that is gone) is what this code must read.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../../../services/s3/client.ts';
import { BlobStore, sha256File } from '../../../../services/storage/blobs.ts';
import { addToPool, poolDir } from '../../../../services/storage/dist-pool.ts';
import { makeIndexEntries } from '../../../../services/storage/index-entries.ts';
import { blobKey, pushBlobs } from '../../../../services/storage/objects/blob-copies.ts';
import { backBlobsWith } from '../../../../services/storage/objects/open.ts';
import { S3ObjectStore } from '../../../../services/storage/objects/s3-store.ts';
import { fails } from '../../../support/errors.ts';
import { startPrivateSwift, type PrivateSwift } from '../../../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages, type TestPackages } from '../../../support/packages.ts';

let root: string;
let swift: PrivateSwift;
let built: TestPackages;
const MiB = 1024 * 1024;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-s3-objects-'));
  // swift is set as soon as it runs, so afterAll stops it whatever else fails
  await Promise.all([startPrivateSwift().then((s) => (swift = s)), buildTestPackages(join(root, 'pkgs'), 3).then((b) => (built = b))]);
}, 180_000);
afterAll(async () => {
  await swift?.stop();
  await rm(root, { recursive: true, force: true });
});

const location = (bucket: string, prefix = '') => ({
  endpoint: swift.endpoint,
  region: 'us-east-1',
  bucket,
  prefix,
  accessKeyId: swift.accessKeyId,
  secretAccessKey: swift.secretAccessKey,
});

async function fileOf(bytes: Buffer): Promise<{ file: string; sha256: string; size: number }> {
  const file = join(root, `in-${randomBytes(4).toString('hex')}`);
  await writeFile(file, bytes);
  return { file, ...(await sha256File(file)) };
}

describe('S3ObjectStore on Swift', () => {
  it('puts, heads, gets, lists and deletes objects below its prefix, creating the bucket', async () => {
    const store = new S3ObjectStore(location('rd-objects', 'site/a'));
    const [one, two] = await Promise.all([fileOf(randomBytes(20_000)), fileOf(randomBytes(10))]);
    await store.ping(); // no bucket yet: the store answers, that is all /healthz asks
    await store.put('blobs/aa/one', one.file, one);
    await store.put('blobs/bb/two', two.file, two);
    expect(await store.head('blobs/aa/one')).toEqual({ size: one.size, sha256: one.sha256 });
    expect(await store.head('blobs/aa/none')).toBeNull();
    const dest = join(root, 'got-one');
    expect(await store.get('blobs/aa/one', dest)).toEqual({ sha256: one.sha256, size: one.size });
    expect(await readFile(dest)).toEqual(await readFile(one.file));
    expect(await store.get('blobs/aa/none', join(root, 'got-none'))).toBeNull();
    expect(await store.list('blobs/')).toEqual([
      { key: 'blobs/aa/one', size: one.size },
      { key: 'blobs/bb/two', size: two.size },
    ]);
    expect(await store.list('blobs/bb/')).toEqual([{ key: 'blobs/bb/two', size: two.size }]);
    await store.delete('blobs/aa/one');
    await store.delete('blobs/aa/one'); // absent: not an error
    expect(await store.list('blobs/')).toEqual([{ key: 'blobs/bb/two', size: two.size }]);
    // the prefix is where the keys are: another prefix of the same bucket sees none of them
    expect(await new S3ObjectStore(location('rd-objects', 'site/b')).list('')).toEqual([]);
    await store.close();
  });

  // Found by the gc tests: the first puts at once into a new bucket each created it, and all but one were
  // answered 409 BucketAlreadyOwnedByYou (RD_STORE_REFUSED)
  it('puts several objects at once into a bucket not there yet', async () => {
    const store = new S3ObjectStore(location('rd-first-puts'));
    const files = await Promise.all([1, 2, 3, 4].map((n) => fileOf(randomBytes(100 * n))));
    expect(
      (
        await pushBlobs(
          store,
          files.map((f) => f.sha256),
          (sha) => files.find((f) => f.sha256 === sha)!.file,
        )
      ).length,
    ).toBe(4);
    for (const f of files) expect(await store.head(blobKey(f.sha256))).toEqual({ size: f.size, sha256: f.sha256 });
    await store.close();
  });

  it('puts a large file in parts and gets it back checked against the sha256 it records (not the ETag)', async () => {
    const store = new S3ObjectStore(location('rd-multipart'), { singlePutMax: 5 * MiB, partSize: 5 * MiB });
    const big = await fileOf(randomBytes(11 * MiB));
    await store.put('blobs/big', big.file, big);
    expect(await store.head('blobs/big')).toEqual({ size: big.size, sha256: big.sha256 });
    const raw = s3Client(location('rd-multipart'));
    // three parts went up: the ETag of a multipart upload is no digest of the bytes, hence our own sha256
    expect((await raw.send(new HeadObjectCommand({ Bucket: 'rd-multipart', Key: 'blobs/big' }))).ETag).toMatch(/-3"?$/);
    raw.destroy();
    const dest = join(root, 'got-big');
    expect(await store.get('blobs/big', dest)).toEqual({ sha256: big.sha256, size: big.size });
    expect((await sha256File(dest)).sha256).toBe(big.sha256);
    await store.close();
  });

  it('refuses a corrupted object on get, naming its key, and leaves no file', async () => {
    const store = new S3ObjectStore(location('rd-corrupt'));
    const good = await fileOf(randomBytes(5_000));
    await store.put('blobs/x', good.file, good);
    // someone (or a broken store) wrote other bytes under the key, with the old metadata
    const raw = s3Client(location('rd-corrupt'));
    await raw.send(
      new PutObjectCommand({ Bucket: 'rd-corrupt', Key: 'blobs/x', Body: randomBytes(5_000), Metadata: { sha256: good.sha256 } }),
    );
    const dest = join(root, 'got-corrupt');
    const e = await fails(store.get('blobs/x', dest), 'RD_STORE_CORRUPT');
    expect(e.message).toContain('blobs/x');
    expect(existsSync(dest)).toBe(false);
    // an object whose own sha256 holds, but under another blob's key, is not that blob either
    const other = await fileOf(randomBytes(100));
    const sha = 'a'.repeat(64);
    await store.put(blobKey(sha), other.file, other);
    const blobs = new BlobStore(join(root, 'corrupt-reader'), store);
    await blobs.init();
    expect((await fails(blobs.linkInto(sha, join(root, 'corrupt-link')), 'RD_STORE_CORRUPT')).message).toContain(blobKey(sha));
    expect(await blobs.has(sha)).toBe(false);
    raw.destroy();
    await store.close();
  });

  it('says RD_STORE_REFUSED when the store refuses the credentials', async () => {
    const store = new S3ObjectStore({ ...location('rd-objects'), secretAccessKey: 'not-the-secret' });
    await fails(store.head('blobs/aa/one'), 'RD_STORE_REFUSED');
    await store.close();
  });
});

describe('blobs shared between two machines through one bucket', () => {
  it('a blob adopted by the first STORAGE_DIR is linked into a repository by the second', async () => {
    const [firstDir, secondDir] = [join(root, 'first'), join(root, 'second')];
    // two workers, two clients of one bucket, as two processes on two machines would have
    backBlobsWith(firstDir, new S3ObjectStore(location('rd-shared')));
    backBlobsWith(secondDir, new S3ObjectStore(location('rd-shared')));
    try {
      const first = new BlobStore(firstDir);
      await first.init();
      const pkgs = await adoptTestPackages(first, built.rpms);
      const second = new BlobStore(secondDir);
      await second.init();
      for (const p of pkgs) expect(await second.has(p.sha256)).toBe(false);

      const entries = await makeIndexEntries(secondDir, 'yum', pkgs, { tmpDir: join(secondDir, 'tmp'), timeoutMs: 60_000 });
      expect(entries.map((e) => e.filename)).toEqual(pkgs.map((p) => p.filename));
      await addToPool(secondDir, pkgs);
      for (const p of pkgs) {
        const inPool = join(poolDir(secondDir), p.sha256.slice(0, 2), p.sha256, p.filename);
        expect((await sha256File(inPool)).sha256).toBe(p.sha256);
        expect((await stat(inPool)).ino).toBe((await stat(second.path(p.sha256))).ino);
      }
    } finally {
      backBlobsWith(firstDir, null);
      backBlobsWith(secondDir, null);
    }
  });
});

describe('the store away', () => {
  it('is RD_STORE_UNAVAILABLE for every call, and the next call after it is back works', async () => {
    const store = new S3ObjectStore(location('rd-away'));
    const f = await fileOf(randomBytes(1_000));
    await store.put('k', f.file, f);
    await swift.stopProxy();
    try {
      await fails(store.ping(), 'RD_STORE_UNAVAILABLE');
      await fails(store.head('k'), 'RD_STORE_UNAVAILABLE');
      await fails(store.get('k', join(root, 'got-away')), 'RD_STORE_UNAVAILABLE');
      await fails(store.put('k2', f.file, f), 'RD_STORE_UNAVAILABLE');
      await fails(store.list(''), 'RD_STORE_UNAVAILABLE');
      const blobs = new BlobStore(join(root, 'away'), store);
      await blobs.init();
      const staged = blobs.tempPath('t');
      await writeFile(staged, await readFile(f.file));
      // the blob is kept here; the step fails (and is retried) before its checkpoint
      await fails(blobs.adopt(staged, f.sha256, f.size), 'RD_STORE_UNAVAILABLE');
      expect(await blobs.has(f.sha256)).toBe(true);
    } finally {
      await swift.startProxy();
    }
    expect(await store.head('k')).toEqual({ size: f.size, sha256: f.sha256 });
    await store.close();
  });
});
