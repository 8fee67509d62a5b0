import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { inTurns } from './fs-now.ts';
import { gzip, gzipSync } from 'node:zlib';
import { RdError } from '../errors.ts';
import { BlobStore, statOrNull } from './blobs.ts';
import { poolHref } from './dist-ref.ts';
import { inside } from './repo-layout.ts';
import type { RepoKind, RepoPackage } from './repo-ref.ts';
import { readRpm } from './rpm-reader.ts';
import { runTool, tail, ToolError } from './run-tool.ts';

/**
 * What each package contributes to a distribution's index, made once by the real tools (createrepo_c's
 * library through the RPM reader; apt-ftparchive over a scratch copy of the pool layout), then kept: a
 * distribution index is the concatenation of its members' entries, so its cost grows with the number of
 * entries and never reads a package again. Each part is one gzip member: concatenated members are one valid .gz (RFC 1952), which
 * dnf (libsolv) and apt (zlib) read as one stream, so a build concatenates bytes without compressing.
 */
export interface IndexEntry {
  sha256: string;
  filename: string;
  kind: RepoKind;
  /** yum: primary, filelists, other <package> elements; apt: the Packages stanza. Each gzipped. */
  parts: Buffer[];
}

export interface EntryOptions {
  /** scratch space on the store's filesystem (STORAGE_DIR/tmp): hard links, no copies */
  tmpDir: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

const gz = promisify(gzip);
const keyOf = (p: { sha256: string; filename: string }) => `${p.sha256}/${p.filename}`;

/**
 * The entries of `packages`, in their order: the recorded ones as they are (no package read), the others
 * made now by the tool and returned in `made`, for the caller to record.
 */
export async function entriesFor(
  storageDir: string,
  kind: RepoKind,
  packages: RepoPackage[],
  recorded: IndexEntry[],
  opts: EntryOptions,
): Promise<{ entries: IndexEntry[]; made: IndexEntry[] }> {
  const known = new Map(recorded.map((e) => [keyOf(e), e]));
  const made = await makeIndexEntries(
    storageDir,
    kind,
    packages.filter((p) => !known.has(keyOf(p))),
    opts,
  );
  for (const e of made) known.set(keyOf(e), e);
  return { entries: packages.map((p) => known.get(keyOf(p))!), made };
}

// an entry is a few KiB: compressed at once it costs less than a trip through the thread pool. Most are under
// 4 KiB, which a 4 KiB window compresses as well as the default 32 KiB one, with a third of zlib's set-up
const SMALL = { windowBits: 12, memLevel: 6 };
const gzPart = (text: string) => (text.length <= 4096 ? gzipSync(text, SMALL) : text.length < 64 * 1024 ? gzipSync(text) : gz(text));

export async function makeIndexEntries(
  storageDir: string,
  kind: RepoKind,
  packages: RepoPackage[],
  opts: EntryOptions,
): Promise<IndexEntry[]> {
  if (packages.length === 0) return [];
  try {
    const blobs = new BlobStore(storageDir);
    const parts = kind === 'yum' ? await yumEntries(blobs, packages, opts) : await aptEntries(blobs, packages, opts);
    return packages.map((p, i) => ({ sha256: p.sha256, filename: p.filename, kind, parts: parts[i]! }));
  } catch (e) {
    throw asEntryError(e, storageDir);
  }
}

/** What no tool could read: named by its file name, in the tool's words, without the store's paths (ticket comments). */
function unreadable(p: RepoPackage, tool: string, words: string, blobs: BlobStore): RdError {
  const why = words.split(blobs.path(p.sha256)).join(p.filename).split(`${blobs.blobsDir}/`).join('');
  return new RdError('RD_PACKAGE_UNREADABLE', `${p.filename}: ${tool} could not read the package${why ? ` (${why})` : ''}`, {
    filename: p.filename,
  });
}

/**
 * Each package's three <package> elements as createrepo_c writes them, its <location> the pool's, from the
 * long-lived RPM reader (rpm-reader.ts), gzipped there: no createrepo_c started per call, no document written
 * and split, no compression on the worker's thread.
 */
async function yumEntries(blobs: BlobStore, packages: RepoPackage[], opts: EntryOptions): Promise<Buffer[][]> {
  return Promise.all(
    packages.map(async (p) => {
      // where it is: on a machine that lacks it, that is after getting it from the object store (BLOB_STORE)
      const path = await blobs.local(p.sha256);
      if (!(await statOrNull(path))) throw new RdError('RD_INTERNAL', `blob ${p.sha256} is not in the store`);
      const read = await readRpm(path, { header: false, href: poolHref(p.sha256, p.filename), sha256: p.sha256, env: opts.env });
      if (!read.parts) throw unreadable(p, 'createrepo_c', read.partsError ?? '', blobs);
      return read.parts;
    }),
  );
}

/**
 * apt-ftparchive with every digest off reads a package's control member and no more: each digest it writes
 * (MD5sum, SHA1, SHA256, SHA512) would read the whole package once again. The stanza then gets the SHA256 the
 * store named the package by, where apt-ftparchive writes it (after Size): all apt needs to check a download.
 */
const NO_DIGESTS = ['MD5', 'SHA1', 'SHA256', 'SHA512'].flatMap((h) => ['-o', `APT::FTPArchive::${h}=false`]);

function withSha256(stanza: string, p: RepoPackage): string {
  const size = /^Size: \d+$/m.exec(stanza);
  if (!size) throw new RdError('RD_INTERNAL', `apt-ftparchive wrote no Size for ${p.filename}`);
  const at = size.index + size[0].length;
  return `${stanza.slice(0, at)}\nSHA256: ${p.sha256}${stanza.slice(at)}`;
}

/** apt-ftparchive over a scratch copy of the pool layout (hard links): each package's stanza (Filename: pool/...), by that file name. */
async function aptEntries(blobs: BlobStore, packages: RepoPackage[], opts: EntryOptions): Promise<Buffer[][]> {
  await mkdir(opts.tmpDir, { recursive: true });
  const dir = await mkdtemp(join(opts.tmpDir, 'entries-'));
  try {
    const at = packages.map((p) => inside(dir, poolHref(p.sha256, p.filename)));
    // calls of microseconds, on this thread (fs-now.ts)
    await inTurns(new Set(at.map((a) => dirname(a))), (d) => mkdirSync(d, { recursive: true }));
    await inTurns(packages.keys(), (i) => blobs.linkInto(packages[i]!.sha256, at[i]!));
    const { stdout, stderr } = await runTool('apt-ftparchive', [...NO_DIGESTS, 'packages', 'pool'], {
      cwd: dir,
      timeoutMs: opts.timeoutMs,
      env: opts.env,
      maxStdoutBytes: 256 * 2 ** 20,
    });
    const byHref = new Map<string, string>();
    for (const stanza of stdout.split(/\n{2,}/)) {
      const href = /^Filename: (.+)$/m.exec(stanza)?.[1];
      if (href) byHref.set(href, `${stanza.trim()}\n\n`);
    }
    return await pMap(packages, async (p) => {
      const stanza = byHref.get(poolHref(p.sha256, p.filename));
      // apt-ftparchive skips a package it cannot read and still exits 0; its stderr says why
      if (!stanza) throw unreadable(p, 'apt-ftparchive', tail(stderr).split(`${dir}/`).join(''), blobs);
      return [await gzPart(withSha256(stanza, p))];
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Tool output names absolute paths; messages reach tickets, so STORAGE_DIR is not spelled out. */
function asEntryError(e: unknown, storageDir: string): unknown {
  if (!(e instanceof ToolError)) return e;
  const redact = (text: string) => text.split(storageDir).join('$STORAGE_DIR');
  return new RdError('RD_PUBLISH_FAILED', redact(e.message), { tool: e.tool, exitCode: e.exitCode, stderrTail: redact(e.stderrTail) });
}
