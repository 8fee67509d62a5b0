import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, openSync, writev, writevSync } from 'node:fs';
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, resolve, sep } from 'node:path';
import type { ReadEntry } from 'tar';
import pLimit from 'p-limit';
import { unsafe } from './bundle-rules.ts';

/** The write side of unpackStream: an empty destDir, then only directories and regular files in it. */

/** Makes destDir exist and be empty; says whether it was created. */
export async function prepare(root: string): Promise<boolean> {
  if (root === resolve('/')) throw new Error('unpackBundle: refusing to use / as destDir');
  const made = await mkdir(root, { recursive: true, mode: 0o755 });
  await clear(root);
  return made !== undefined;
}

export async function clear(root: string): Promise<void> {
  for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
}

/**
 * Called with each regular file (its open descriptor) once its bytes are written and before it is closed:
 * what its reader does with every file anyway (a store makes it read-only and durable) begins while the rest
 * arrives. Says whether it sealed the file: a sealed file keeps the mode the seal gave it, any other gets the
 * unpacker's 0644.
 */
export type Seal = (fd: number, sha256: string, rel: string) => Promise<boolean>;

/** Writes the entries of pass 2: directories and regular files only, fixed modes, never over anything. */
export class TreeWriter {
  private readonly dirs = new Map<string, Promise<void>>([['', Promise.resolve()]]);
  private readonly writes = new Set<Promise<void>>();
  private readonly reading = new Set<ReadEntry>();
  private aborted = false;
  private readonly digests = new Map<string, string>();
  private error: unknown;

  /** files open at once: a file being sealed holds its descriptor, and a slow disk stalls the bundle, not the fd table */
  private readonly open = pLimit(FILES_OPEN);

  private readonly root: string;
  private readonly seal?: Seal;

  constructor(root: string, seal?: Seal) {
    this.root = root;
    this.seal = seal;
  }

  /** Starts writing one entry; the promise rejects with the first I/O error. */
  take(entry: ReadEntry, info: { path: string; kind: 'file' | 'dir' }): Promise<void> {
    if (info.kind === 'dir') entry.resume();
    const p = info.kind === 'dir' ? this.dir(info.path) : this.open(() => this.file(entry, info.path));
    const tracked = p
      .catch((e) => {
        this.error ??= e;
      })
      .finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
    return p;
  }

  /** Waits for every file to be closed; throws the first write error. */
  async settle(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
    if (this.error) throw this.error;
  }

  /** The sha256 of a file written whole (settle() first). */
  digest(rel: string): string {
    const d = this.digests.get(rel);
    if (d === undefined) throw new Error(`TreeWriter: ${rel} was not written`);
    return d;
  }

  async abort(): Promise<void> {
    this.aborted = true;
    // a file waiting for more of an entry that will never come: its read ends here
    for (const entry of this.reading) entry.destroy();
    await Promise.allSettled(this.writes);
  }

  private inside(rel: string): string {
    const abs = resolve(this.root, rel);
    if (!abs.startsWith(this.root + sep)) throw unsafe(rel, 'points outside the bundle');
    return abs;
  }

  private dir(rel: string): Promise<void> {
    let p = this.dirs.get(rel);
    if (!p) {
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      const abs = this.inside(rel);
      p = this.dir(parent).then(async () => {
        await mkdir(abs, { mode: 0o755 });
        await chmod(abs, 0o755);
      });
      this.dirs.set(rel, p);
    }
    return p;
  }

  private async file(entry: ReadEntry, rel: string): Promise<void> {
    const abs = this.inside(rel);
    let fd: number;
    try {
      await this.dir(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
      // open, the tail's write and close on this thread (storage/fs-now.ts says why); a full batch's write
      // may wait for the disk, and goes to libuv's pool
      fd = openSync(abs, 'wx', 0o644);
    } catch (e) {
      entry.resume();
      throw e;
    }
    this.reading.add(entry);
    const hash = createHash('sha256');
    // abort() destroys the entry: a read waiting for it ends, but one asked for later would wait for ever
    const stopIfAborted = () => {
      if (this.aborted) throw new Error('unpack aborted');
    };
    try {
      stopIfAborted();
      // hashed as read, written a batch at a time (one writev per WRITE_BATCH bytes, a package in one call):
      // no stream per file, and never more than a batch of the entry in memory
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          await writeAll(fd, batch);
          batch = [];
          batched = 0;
        }
        stopIfAborted();
      }
      writeAllNow(fd, batch);
      stopIfAborted();
      const sha256 = hash.digest('hex');
      // a mode on an open descriptor takes the kernel microseconds, less than a round trip to the thread pool
      if (!(await this.seal?.(fd, sha256, rel))) fchmodSync(fd, 0o644);
      this.digests.set(rel, sha256);
    } catch (e) {
      entry.resume();
      throw e;
    } finally {
      this.reading.delete(entry);
      try {
        closeSync(fd);
      } catch {
        // a close that fails after the bytes were written and synced loses nothing
      }
    }
  }
}

const WRITE_BATCH = 1 << 20;
const FILES_OPEN = 8;

const writevAsync = promisify(writev);

/** writev until every byte is down, in libuv's pool: the kernel may take part of what it is given */
async function writeAll(fd: number, chunks: Buffer[]): Promise<void> {
  for (let rest = chunks; rest.length > 0; ) rest = after(rest, (await writevAsync(fd, rest)).bytesWritten);
}

/** writeAll for the tail of a file (less than a batch), on this thread */
function writeAllNow(fd: number, chunks: Buffer[]): void {
  for (let rest = chunks; rest.length > 0; ) rest = after(rest, writevSync(fd, rest));
}

/** what is left of `chunks` once the first `n` bytes are written */
function after(chunks: Buffer[], n: number): Buffer[] {
  let rest = chunks;
  let left = n;
  while (rest.length > 0 && left >= rest[0]!.length) {
    left -= rest[0]!.length;
    rest = rest.slice(1);
  }
  return left > 0 ? [rest[0]!.subarray(left), ...rest.slice(1)] : rest;
}
