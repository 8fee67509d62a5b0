import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { chmod, copyFile, mkdir, rm, stat, unlink, utimes } from 'node:fs/promises';
import { fsyncFd, inTurns, statNow } from './fs-now.ts';
import { dirname, join } from 'node:path';
import pMap from 'p-map';
import { RdError } from '../errors.ts';
import { youngGcEvery } from '../young-gc.ts';
import { blobKey, forgetBlobs, pullBlob, pushBlobs } from './objects/blob-copies.ts';
import { objectStoreOf } from './objects/open.ts';
import type { ObjectStore } from './objects/store.ts';

/**
 * Content-addressed blob store: every artifact is stored once, at STORAGE_DIR/blobs/<aa>/<sha256>,
 * read-only. Repositories are hard links to these files, so promoting a release moves no bytes.
 * Bytes are hashed once, on arrival (the downloader hashes while streaming); the store trusts the
 * digest it is given and only checks the size, which is free.
 *
 * With an object store behind it (BLOB_STORE), what is adopted here is also put there, and a blob this
 * machine lacks is got from there first: STORAGE_DIR's blobs are then a cache that workers on other machines
 * fill from the same store.
 *
 * Calls of microseconds (stat, link, unlink, mkdir, open, close) are made on this thread (fs-now.ts says why).
 */
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * createrepo_c writes a file's mtime into its index entry (`<time file=…>`), and caches such as
 * createrepo_c --update and apt-ftparchive --db key on name and mtime. Two different blobs may share a
 * filename (a package rebuilt with the same version) and, when unpacked from a reproducible tarball,
 * even the mtime. Deriving the mtime from the digest makes the entry a function of the content: two blobs
 * with the same filename get the same mtime only if their digests share their first 28 bits.
 */
export function blobMtime(sha256: string): number {
  return 946_684_800 + Number.parseInt(sha256.slice(0, 7), 16); // 2000-01-01 + up to ~8.5 years
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const freeBuffers = youngGcEvery();
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    freeBuffers(chunk.length);
  }
  return { sha256: hash.digest('hex'), size };
}

export class BlobStore {
  readonly blobsDir: string;
  /** Scratch space on the same filesystem as the blobs, so adopt() is a rename, not a copy. */
  readonly tmpDir: string;

  readonly storageDir: string;
  readonly objects: ObjectStore | null;

  constructor(storageDir: string, objects: ObjectStore | null = objectStoreOf(storageDir)) {
    this.storageDir = storageDir;
    this.objects = objects;
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
    return statNow(this.path(sha256)) !== undefined;
  }

  /**
   * (1) of adoptAll on a file still open after its last write (an unpacker's Seal): read-only, its mtime
   * from its digest, bytes and inode on disk. Staged with `sealed`, adoptAll does not do it again; its data
   * went to disk while the rest of its bundle arrived.
   */
  async seal(fd: number, sha256: string): Promise<void> {
    fchmodSync(fd, 0o444);
    const mtime = blobMtime(sha256);
    futimesSync(fd, mtime, mtime);
    await fsyncFd(fd);
  }

  private async sealFile(file: string, sha256: string): Promise<void> {
    const fd = openSync(file, 'r');
    try {
      await this.seal(fd, sha256);
    } finally {
      closeSync(fd);
    }
  }

  /** Moves one already-hashed file into the store, durably before it returns (adoptAll of one). */
  async adopt(tmpFile: string, sha256: string, size: number): Promise<Adopted> {
    return (await this.adoptAll([{ file: tmpFile, sha256, size }]))[0]!;
  }

  /**
   * Moves already-hashed files into the store with one batch of syncs. Idempotent: when a blob exists, its
   * file is dropped. link()+unlink() instead of rename(): link never replaces an existing blob, so the inode
   * that repositories already link to stays the one in the store. `stored` are blobs already in the store
   * that the caller relies on too (a download skipped because its digest was there).
   *
   * Durable when it returns, which is what lets a checkpoint name these blobs (fetch-packages returns, and
   * runSteps writes its checkpoint, only after this):
   *  1. every new file's bytes and inode (mode, mtime) are fsynced BEFORE any name in the store points at it:
   *     a rerun trusts a blob found by name without reading it again (the downloader's cache, `existed`), so
   *     a name must never survive a crash that its bytes did not;
   *  2. then the links are made, and each directory that got a new name (blobs/<aa>, and blobs/ when <aa> is
   *     new) is fsynced once, as are the directories of blobs found already stored: another action may have
   *     linked them a moment ago and not yet synced its directories.
   * The fsyncs of (1) run 16 at once and (2) once per directory: one batch per release instead of a file
   * fsync and a directory fsync per blob, one after the other.
   *  3. with an object store, then every blob named (staged and stored) that it does not hold is put there:
   *     a checkpoint that names a blob can be resumed on another machine. A rerun after a crash between (2)
   *     and (3) finds the blob here (`stored`) and puts it then.
   */
  async adoptAll(staged: Staged[], stored: string[] = []): Promise<Adopted[]> {
    const out = await this.adoptHere(staged, stored);
    if (this.objects) await pushBlobs(this.objects, [...staged.map((s) => s.sha256), ...stored], (sha) => this.path(sha));
    return out;
  }

  /** (1) and (2) of adoptAll: into this STORAGE_DIR only. */
  private async adoptHere(staged: Staged[], stored: string[]): Promise<Adopted[]> {
    const out: Adopted[] = await inTurns(staged, (s) => {
      const actual = statSync(s.file).size;
      if (actual !== s.size) throw new RdError('RD_INTERNAL', `adopt ${s.sha256}: file has ${actual} bytes, caller said ${s.size}`);
      return { path: this.path(s.sha256), existed: statNow(this.path(s.sha256)) !== undefined };
    });
    await pMap(
      staged.filter((s, i) => !out[i]!.existed && !s.sealed),
      (s) => this.sealFile(s.file, s.sha256), // (1)
      { concurrency: SYNC_AT_ONCE },
    );
    const dirs = new Set([...staged.map((s) => s.sha256), ...stored].map((sha) => dirname(this.path(sha))));
    // the same content twice in one batch is linked by one of them (the other finds it there: existed)
    const byContent = new Map<string, number[]>();
    for (const [i, s] of staged.entries()) byContent.set(s.sha256, [...(byContent.get(s.sha256) ?? []), i]);
    await inTurns(byContent.values(), async (indexes) => {
      for (const i of indexes) {
        const s = staged[i]!;
        if (!out[i]!.existed) {
          if (mkdirSync(dirname(out[i]!.path), { recursive: true })) dirs.add(this.blobsDir);
          out[i]!.existed = await this.linkIn(s);
        }
        unlinkSync(s.file);
      }
    });
    await pMap(dirs, fsyncPath, { concurrency: SYNC_AT_ONCE }); // (2)
    return out;
  }

  /** Links a prepared (synced, read-only) file at its blob path; true when that blob was there already. */
  private async linkIn(s: Staged): Promise<boolean> {
    try {
      linkSync(s.file, this.path(s.sha256));
      return false;
    } catch (e) {
      if (errCode(e) === 'EEXIST') return true; // a concurrent adopt of the same content won; same bytes
      if (errCode(e) !== 'EXDEV') throw e;
    }
    // the file lives on another filesystem (e.g. a bundle unpacked under /tmp): a synced copy in tmpDir first
    const local = this.tempPath('adopt');
    await mkdir(this.tmpDir, { recursive: true });
    await copyFile(s.file, local);
    await this.sealFile(local, s.sha256);
    try {
      return await this.linkIn({ ...s, file: local });
    } finally {
      await unlink(local);
    }
  }

  /**
   * The blob's path here, got from the object store first when this machine lacks it (checked against its
   * sha256 on the way, adopted like a download). Without an object store, or when it lacks the blob too, the
   * path is returned all the same: the caller's read says the blob is missing, as it always did.
   */
  async local(sha256: string): Promise<string> {
    const at = this.path(sha256);
    if (!this.objects || statNow(at)) return at;
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = this.tempPath('pull');
    const size = await pullBlob(this.objects, sha256, tmp);
    if (size !== null) await this.adoptHere([{ file: tmp, sha256, size }], []);
    return at;
  }

  /** The blob's size, here or (without reading its bytes) in the object store; null when neither has it. */
  async storedSize(sha256: string): Promise<number | null> {
    const here = await statOrNull(this.path(sha256));
    if (here || !this.objects) return here?.size ?? null;
    const there = await this.objects.head(blobKey(sha256));
    // a wrong object is not a missing blob (permanent): it is the store's to repair
    if (there && there.sha256 !== sha256)
      throw new RdError('RD_STORE_CORRUPT', `object ${blobKey(sha256)} records sha256 ${there.sha256 ?? 'none'}, not its key's`, {
        key: blobKey(sha256),
      });
    return there?.size ?? null;
  }

  /**
   * Deletes blobs nobody uses any more (the caller holds their rows' locks, services/db/blobs.ts): from the
   * object store first, then here. A store that fails throws before anything here is deleted: the caller keeps
   * the rows, so a later run finds the blobs whole and deletes them then.
   */
  async remove(shas: string[]): Promise<void> {
    if (this.objects) await forgetBlobs(this.objects, shas);
    await pMap(shas, (sha) => rm(this.path(sha), { force: true }), { concurrency: SYNC_AT_ONCE });
  }

  /** Hard-links a blob to destPath (a repository entry). Copies only across filesystems. */
  async linkInto(sha256: string, destPath: string): Promise<void> {
    const src = await this.local(sha256);
    try {
      linkSync(src, destPath);
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

export interface Staged {
  /** a file on the store's filesystem (STORAGE_DIR/tmp), or another one (copied) */
  file: string;
  sha256: string;
  size: number;
  /** BlobStore.seal ran on it as it was written: (1) of adoptAll is done */
  sealed?: boolean;
}

export interface Adopted {
  path: string;
  /** the blob was in the store already: nothing new was stored for it */
  existed: boolean;
}

/** fsyncs in flight at once: concurrent fsyncs share the filesystem's journal commits */
const SYNC_AT_ONCE = 16;

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
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
