import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { isRdError, RdError } from '../errors.ts';
import { BundleLedger, corrupt, limit, unsafe, type BundleFile, type BundleLimits } from './bundle-rules.ts';
import type { BodyTarget } from './http-fetch.ts';
import { clear, prepare, type Seal, TreeWriter } from './tree-writer.ts';

export type { BundleFile, BundleLimits, Seal };
/** A file of the bundle as written: its digest was taken while it was written, so nobody reads it again for it. */
export type UnpackedFile = BundleFile & { sha256: string };
export type Unpacked = { files: UnpackedFile[] };

/** A bundle already on disk: read once, and not past its end-of-archive marker. */
export function unpackBundle(tarGzPath: string, destDir: string, limits: BundleLimits): Promise<Unpacked> {
  return unpackStream(createReadStream(tarGzPath), destDir, limits, 'stop');
}

/**
 * Unpacks a provider's tar.gz in one pass, as it arrives. Each header is checked (type, path, duplicates,
 * entry and byte limits) before its entry is written, so a tar/gzip bomb stops at the first entry over a
 * limit; only regular files (0644) and directories (0755) are created, with O_EXCL, inside a destDir that
 * holds nothing else, so no link can redirect a write. A refused bundle leaves no trace: destDir belongs to
 * this call, what an interrupted earlier attempt left there is removed first, and on any failure everything
 * written is removed again. The gunzip is ours, not node-tar's: decompressed bytes are counted (a stream of
 * zeros or of metadata headers cannot run on) and nothing after the tar end-of-archive marker is
 * decompressed. After the marker or a refusal, `afterEnd` says whether the input is dropped ('stop': a file)
 * or read to its end undecompressed ('drain': a download whose digest covers every byte).
 */
export async function unpackStream(
  input: Readable,
  destDir: string,
  limits: BundleLimits,
  afterEnd: 'stop' | 'drain',
  seal?: Seal,
): Promise<Unpacked> {
  const root = resolve(destDir);
  // at once: a download may end, or fail, before destDir is ready
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  // a gzip error before the walk reads is kept by the stream (errored) and thrown to the walk when it does
  gunzip.on('error', () => {});
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  let created: boolean;
  try {
    created = await prepare(root);
  } catch (e) {
    letGo(input, gunzip, afterEnd);
    throw e;
  }
  const writer = new TreeWriter(root, seal);
  try {
    const ledger = await walk(
      input,
      gunzip,
      limits,
      afterEnd,
      (entry, info) => writer.take(entry, info),
      () => writer.settle(),
    );
    return { files: ledger.files.map((f) => ({ ...f, sha256: writer.digest(f.path) })) };
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
  const byName = new Map<string, string[]>();
  for (const f of files) {
    const name = basename(f.path);
    byName.set(name, [...(byName.get(name) ?? []), f.path]);
  }
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of filenames) {
    const hits = byName.get(name) ?? [];
    if (hits.length > 1) throw unsafe(name, `is ambiguous: ${hits.join(', ')} have that name`);
    if (hits[0]) found[name] = hits[0];
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
async function walk(
  input: Readable,
  gunzip: Gunzip,
  limits: BundleLimits,
  afterEnd: 'stop' | 'drain',
  onEntry: OnEntry,
  settle: () => Promise<void>,
): Promise<BundleLedger> {
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
      if (sawEnd) break; // whatever follows the end-of-archive marker is never decompressed
    }
    parser.end();
    if (!failure) await Promise.race([done, new Promise<void>((ok) => (wake = ok))]);
    await settle().catch(fail);
    if (failure) throw failure;
  } catch (e) {
    failure ??= asBundleError(e);
  } finally {
    letGo(input, gunzip, afterEnd);
  }
  if (failure) throw failure;
  if (afterEnd === 'drain') await finished(input);
  return ledger;
}

/**
 * Nothing more is decompressed. A file is dropped; a download still runs to its end, undecompressed: its
 * digest, when wrong, is the reason a refused bundle is given.
 */
function letGo(input: Readable, gunzip: Gunzip, afterEnd: 'stop' | 'drain') {
  input.unpipe(gunzip);
  gunzip.destroy();
  if (afterEnd === 'stop') input.destroy();
  else input.resume();
}

const isCompressed = (b: Buffer) => (b[0] === 0x1f && b[1] === 0x8b) || b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));

function asBundleError(e: unknown): unknown {
  if (isRdError(e)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_')) return corrupt(`gzip: ${(e as Error).message}`, { code });
  return e; // our own I/O (ENOENT on the bundle, ENOSPC...): not the provider's fault
}

/**
 * A download's body unpacked as it arrives (BodyTarget of http-fetch): the bundle is never written whole
 * and no byte of it is read twice. The result is the unpacked bundle, or the reason it was refused.
 */
export function unpackTarget(destDir: string, limits: BundleLimits, seal?: Seal): BodyTarget<Unpacked> {
  const through = new PassThrough({ highWaterMark: 256 * 1024 });
  const unpacked = unpackStream(through, destDir, limits, 'drain', seal);
  const settled = unpacked.then(
    () => true,
    () => false,
  );
  return {
    writable: through,
    done: () => unpacked,
    async discard() {
      // with an error: a plain destroy does not end the gunzip reading from it
      through.destroy(new Error('the download stopped'));
      if (await settled) await clear(resolve(destDir));
    },
  };
}
