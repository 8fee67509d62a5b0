import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { isRdError, RdError } from '../errors.ts';
import { BundleLedger, corrupt, limit, unsafe, type BundleFile, type BundleLimits } from './bundle-rules.ts';
import { clear, prepare, TreeWriter } from './tree-writer.ts';

export type { BundleFile, BundleLimits };

/**
 * Unpacks a provider's tar.gz in two passes over the same local file:
 *  1. list: every header is checked (type, path, duplicates, entry and byte limits) and nothing is
 *     written, so a refused bundle leaves no trace and a tar/gzip bomb stops at the first entry
 *     over a limit;
 *  2. extract: the same rules again, then only regular files (0644) and directories (0755) are
 *     created, with O_EXCL, inside a destDir that holds nothing else, so no link can redirect a write.
 * The gunzip is ours, not node-tar's: decompressed bytes are counted (a stream of zeros or of
 * metadata headers cannot run on) and reading stops at the tar end-of-archive marker.
 *
 * destDir belongs to this call: what an earlier, interrupted attempt left there is removed first,
 * and on any failure everything written is removed again.
 */
export async function unpackBundle(tarGzPath: string, destDir: string, limits: BundleLimits): Promise<{ files: BundleFile[] }> {
  await walk(tarGzPath, limits, (entry) => void entry.resume());
  const root = resolve(destDir);
  const created = await prepare(root);
  const writer = new TreeWriter(root);
  try {
    const ledger = await walk(
      tarGzPath,
      limits,
      (entry, info) => writer.take(entry, info),
      () => writer.settle(),
    );
    return { files: ledger.files };
  } catch (e) {
    await writer.abort();
    await clear(root);
    if (created) await rm(root, { recursive: true, force: true });
    throw e;
  }
}

/**
 * For each release.xml filename, the bundle file with that basename (the bundle may sort packages
 * into rpm/ and deb/ folders). `found` maps filename -> relative path; `extras` are the other files.
 */
export function findPackageFiles(files: readonly BundleFile[], filenames: readonly string[]) {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of filenames) {
    const hits = files.filter((f) => basename(f.path) === name);
    if (hits.length > 1) throw unsafe(name, `is ambiguous: ${hits.map((h) => h.path).join(', ')} have that name`);
    if (hits[0]) found[name] = hits[0].path;
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new RdError('RD_PACKAGE_MISSING', `not in the bundle: ${missing.join(', ')}`, { missing });
  }
  const used = new Set(Object.values(found));
  return { found, extras: files.filter((f) => !used.has(f.path)).map((f) => f.path) };
}

type OnEntry = (entry: ReadEntry, info: { path: string; kind: 'file' | 'dir' }) => void | Promise<void>;

/** Streams the archive through gunzip and node-tar's parser; resolves with the ledger of a clean pass. */
async function walk(file: string, limits: BundleLimits, onEntry: OnEntry, settle = async () => {}): Promise<BundleLedger> {
  const ledger = new BundleLedger(limits);
  const parser = new Parser({ strict: true, brotli: false, zstd: false, maxMetaEntrySize: 64 * 1024 });
  let failure: unknown;
  let wake = () => {};
  const fail = (e: unknown) => {
    failure ??= e;
    wake();
  };
  let sawEnd = false;
  parser.on('error', (e: Error) => fail(isRdError(e) ? e : corrupt(e.message)));
  parser.on('eof', () => (sawEnd = true));
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    fail(
      entry.meta
        ? corrupt(`oversized ${entry.type} header before "${entry.path}"`)
        : unsafe(entry.path, `has the unsupported tar type ${entry.type}`),
    );
  });
  parser.on('entry', (entry: ReadEntry) => {
    if (failure) return void entry.resume();
    try {
      onEntry(entry, ledger.add(entry.path, entry.type, entry.size, entry.linkpath))?.catch(fail);
    } catch (e) {
      entry.resume();
      fail(e);
    }
  });
  const done = new Promise<void>((ok) => parser.on('end', ok));

  // decompressed bytes beyond the declared sizes: headers, padding, pax records (generous)
  const cap = limits.maxBytes + (limits.maxEntries + 1) * 8192 + 2 ** 20;
  let seen = 0;
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (seen === 0 && isCompressed(chunk)) fail(corrupt('the tar inside is compressed again'));
      seen += chunk.length;
      if (seen > cap) fail(limit(`unpacks to more than ${limits.maxBytes} bytes`, { maxBytes: limits.maxBytes }));
      if (!failure && !parser.write(chunk))
        await new Promise<void>((ok) => {
          wake = ok;
          parser.once('drain', ok);
        });
      if (failure) throw failure;
      if (sawEnd) break; // whatever follows the end-of-archive marker is never read
    }
    parser.end();
    if (!failure) await Promise.race([done, new Promise<void>((ok) => (wake = ok))]);
    await settle().catch(fail);
    if (failure) throw failure;
  } catch (e) {
    throw failure ?? asBundleError(e);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return ledger;
}

const isCompressed = (b: Buffer) => (b[0] === 0x1f && b[1] === 0x8b) || b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));

function asBundleError(e: unknown): unknown {
  if (isRdError(e)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_')) return corrupt(`gzip: ${(e as Error).message}`, { code });
  return e; // our own I/O (ENOENT on the bundle, ENOSPC...): not the provider's fault
}
