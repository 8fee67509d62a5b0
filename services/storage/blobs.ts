import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RdError } from '../errors.ts';

/**
 * Content-addressed blob store: every artifact is stored once, at STORAGE_DIR/blobs/<aa>/<sha256>,
 * read-only. Repositories are hard links to these files, so promoting a release moves no bytes.
 * Bytes are hashed once, on arrival (the downloader hashes while streaming); the store trusts the
 * digest it is given and only checks the size, which is free.
 */
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * createrepo_c --update and apt-ftparchive --db reuse cached checksums when a file's name, and
 * mtime (plus size for createrepo_c) are unchanged. Two different blobs may share a filename (a
 * package rebuilt with the same version) and, when unpacked from a reproducible tarball, even the
 * mtime. Deriving the mtime from the digest ties the cache key to the content: two blobs with the
 * same filename get the same mtime only if their digests share their first 28 bits.
 */
export function blobMtime(sha256: string): number {
  return 946_684_800 + Number.parseInt(sha256.slice(0, 7), 16); // 2000-01-01 + up to ~8.5 years
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export class BlobStore {
  readonly blobsDir: string;
  /** Scratch space on the same filesystem as the blobs, so adopt() is a rename, not a copy. */
  readonly tmpDir: string;

  constructor(readonly storageDir: string) {
    this.blobsDir = join(storageDir, 'blobs');
    this.tmpDir = join(storageDir, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** A fresh file name under STORAGE_DIR/tmp for a download that will be adopted. */
  tempPath(hint = 'dl'): string {
    return join(this.tmpDir, `${hint.replace(/[^A-Za-z0-9._-]/g, '_')}.${Date.now()}.${randomBytes(6).toString('hex')}`);
  }

  path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new RdError('RD_INTERNAL', `not a sha256 digest: ${JSON.stringify(sha256)}`);
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await statOrNull(this.path(sha256))) !== null;
  }

  /**
   * Moves an already-hashed file into the store. Idempotent: when the blob exists, the temp file is
   * dropped. link()+unlink() instead of rename(): link never replaces an existing blob, so the inode
   * that repositories already link to stays the one in the store.
   */
  async adopt(tmpFile: string, sha256: string, size: number): Promise<{ path: string; existed: boolean }> {
    const dest = this.path(sha256);
    const actual = (await stat(tmpFile)).size;
    if (actual !== size) throw new RdError('RD_INTERNAL', `adopt ${sha256}: file has ${actual} bytes, caller said ${size}`);
    if (await statOrNull(dest)) {
      await unlink(tmpFile);
      return { path: dest, existed: true };
    }
    await fsyncPath(tmpFile); // the bytes are durable before any name points at them
    await chmod(tmpFile, 0o444);
    const mtime = blobMtime(sha256);
    await utimes(tmpFile, mtime, mtime);
    await mkdir(dirname(dest), { recursive: true });
    let existed = false;
    try {
      await link(tmpFile, dest);
    } catch (e) {
      if (errCode(e) === 'EXDEV') return this.adoptCopy(tmpFile, sha256, size);
      if (errCode(e) !== 'EEXIST') throw e;
      existed = true; // a concurrent adopt of the same content won; same bytes, nothing to do
    }
    await fsyncPath(dirname(dest));
    await unlink(tmpFile);
    return { path: dest, existed };
  }

  /** The file lives on another filesystem (e.g. a bundle unpacked under /tmp): copy it to tmpDir first. */
  private async adoptCopy(file: string, sha256: string, size: number): Promise<{ path: string; existed: boolean }> {
    const local = this.tempPath('adopt');
    await mkdir(this.tmpDir, { recursive: true });
    await copyFile(file, local);
    const adopted = await this.adopt(local, sha256, size);
    await unlink(file);
    return adopted;
  }

  /** Hard-links a blob to destPath (a repository entry). Copies only across filesystems. */
  async linkInto(sha256: string, destPath: string): Promise<void> {
    const src = this.path(sha256);
    try {
      await link(src, destPath);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT' && !(await statOrNull(src))) throw new RdError('RD_INTERNAL', `blob ${sha256} is not in the store`);
      if (code === 'EEXIST' && (await sameFile(src, destPath))) return;
      if (code !== 'EXDEV') throw e;
      await copyFile(src, destPath);
      await chmod(destPath, 0o444);
      const mtime = blobMtime(sha256);
      await utimes(destPath, mtime, mtime);
    }
  }
}

export function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  return sa.ino === sb.ino && sa.dev === sb.dev;
}

/** fsync a file or a directory (a directory fsync makes a new name in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
