import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { RdError, isRdError } from '../../errors.ts';
import { errCode, fsyncPath } from '../blobs.ts';
import { receive } from './receive.ts';
import type { Digest, ObjectStore } from './store.ts';

/**
 * An object store in a directory, e.g. a filesystem mounted on every worker machine. The bytes of key K are
 * at ROOT/data/K and its sha256 at ROOT/meta/K, each written aside and renamed in, the sha256 first: a put
 * cut short leaves a sha256 without bytes, which reads as absent and is put again. ROOT must exist (a mount
 * that is away must not be replaced by a directory on the local disk): without it the store is unavailable.
 */
export class FsObjectStore implements ObjectStore {
  readonly where: string;
  /** a directory is not served to sites */
  readonly sitesRead = false;

  private readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.where = `dir ${root}`;
  }

  async put(key: string, file: string, digest: Digest): Promise<void> {
    await this.call(key, async () => {
      const actual = (await stat(file)).size;
      if (actual !== digest.size) throw new RdError('RD_INTERNAL', `put ${key}: file has ${actual} bytes, caller said ${digest.size}`);
      await this.placed(this.at('meta', key), (tmp) => writeFile(tmp, digest.sha256));
      await this.placed(this.at('data', key), (tmp) => copyFile(file, tmp));
    });
  }

  async get(key: string, dest: string): Promise<Digest | null> {
    return this.call(key, async () => {
      if (!(await this.head(key))) return null;
      const recorded = await readFile(this.at('meta', key), 'utf8').catch(() => null);
      return receive(createReadStream(this.at('data', key)), dest, key, recorded);
    });
  }

  async copy(from: string, to: string): Promise<boolean> {
    return this.call(to, async () => {
      const st = await stat(this.at('data', from)).catch(absent);
      if (!st) return false;
      await this.placed(this.at('meta', to), (tmp) => copyFile(this.at('meta', from), tmp));
      await this.placed(this.at('data', to), (tmp) => copyFile(this.at('data', from), tmp));
      return true;
    });
  }

  async open(key: string): Promise<{ body: Readable; size: number } | null> {
    return this.call(key, async () => {
      const st = await stat(this.at('data', key)).catch(absent);
      return st ? { body: createReadStream(this.at('data', key)), size: st.size } : null;
    });
  }

  async head(key: string): Promise<{ size: number; sha256: string | null } | null> {
    return this.call(key, async () => {
      const st = await stat(this.at('data', key)).catch(absent);
      if (!st) return null;
      return { size: st.size, sha256: await readFile(this.at('meta', key), 'utf8').catch(absent) };
    });
  }

  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    return this.call(prefix, async () => {
      const data = join(this.root, 'data');
      // only the directory that holds every key with this prefix is walked
      const from = join(data, prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '');
      const entries = await readdir(from, { recursive: true, withFileTypes: true }).catch(absent);
      const out = [];
      for (const e of entries ?? []) {
        const key = relative(data, join(e.parentPath, e.name));
        if (e.isFile() && key.startsWith(prefix)) out.push({ key, size: (await stat(join(data, key))).size });
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    });
  }

  async delete(key: string): Promise<void> {
    await this.call(key, async () => {
      // rm --force of a key under a mount that is away would "succeed": the caller would forget an object still there
      await stat(this.root);
      await rm(this.at('data', key), { force: true });
      await rm(this.at('meta', key), { force: true });
    });
  }

  async ping(): Promise<void> {
    await this.call('', async () => {
      if (!(await stat(this.root)).isDirectory()) throw new Error(`${this.root} is not a directory`);
    });
  }

  async close(): Promise<void> {}

  private at(tree: 'data' | 'meta', key: string): string {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) || key.split('/').some((s) => s === '.' || s === '..'))
      throw new RdError('RD_INTERNAL', `not an object key: ${JSON.stringify(key)}`);
    return join(this.root, tree, key);
  }

  /** Writes a file aside (by `write`), syncs it, and renames it to `at`, durably. */
  private async placed(at: string, write: (tmp: string) => Promise<void>): Promise<void> {
    await stat(this.root); // a missing root is the store being away, not a directory to create
    await mkdir(dirname(at), { recursive: true });
    const tmp = join(dirname(at), `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await write(tmp);
      await fsyncPath(tmp);
      await rename(tmp, at);
    } finally {
      await rm(tmp, { force: true });
    }
    await fsyncPath(dirname(at));
  }

  /** A failure of the filesystem under ROOT is the store being away; the catalog's own errors go as they are. */
  private async call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isRdError(e)) throw e;
      throw new RdError('RD_STORE_UNAVAILABLE', `${this.where}${key ? ` (${key})` : ''}: ${errCode(e) ?? (e as Error).message}`);
    }
  }
}

const absent = (e: unknown): null => {
  if (errCode(e) === 'ENOENT') return null;
  throw e;
};
