import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { gunzip, gzip, gzipSync } from 'node:zlib';
import { RdError } from '../errors.ts';
import { BlobStore, statOrNull } from './blobs.ts';
import { poolHref } from './dist-ref.ts';
import { inside } from './repo-layout.ts';
import type { RepoKind, RepoPackage } from './repo-ref.ts';
import { runTool, tail, ToolError } from './run-tool.ts';

/**
 * What each package contributes to a distribution's index, made once by the real tools (createrepo_c,
 * apt-ftparchive) over a scratch copy of the pool layout, then kept: a distribution index is the
 * concatenation of its members' entries, so its cost grows with the number of entries and never reads a
 * package again. Each part is one gzip member: concatenated members are one valid .gz (RFC 1952), which
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

const gunzipAsync = promisify(gunzip);

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
  await mkdir(opts.tmpDir, { recursive: true });
  const dir = await mkdtemp(join(opts.tmpDir, 'entries-'));
  try {
    const blobs = new BlobStore(storageDir);
    const { byHref, warnings } =
      kind === 'yum' ? await yumEntries(blobs, packages, dir, opts) : await aptEntries(blobs, packages, dir, opts);
    const entries: IndexEntry[] = [];
    for (const p of packages) {
      const parts = kind === 'yum' ? withHref(byHref.get(blobHref(p.sha256)), p) : byHref.get(poolHref(p.sha256, p.filename));
      if (!parts) {
        const tool = kind === 'yum' ? 'createrepo_c' : 'apt-ftparchive';
        // both tools skip a package they cannot read and still exit 0; their stderr says why
        const why = tail(warnings).split(`${dir}/`).join('').split(`${blobs.blobsDir}/`).join('');
        throw new RdError('RD_PACKAGE_UNREADABLE', `${p.filename}: ${tool} could not read the package${why ? ` (${why})` : ''}`, {
          filename: p.filename,
        });
      }
      entries.push({ sha256: p.sha256, filename: p.filename, kind, parts: await Promise.all(parts.map(gzPart)) });
    }
    return entries;
  } catch (e) {
    throw asEntryError(e, storageDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the tool wrote, by package path, and what it said on stderr while succeeding. */
interface ToolEntries {
  byHref: Map<string, string[]>;
  warnings: string;
}

const YUM_FILES = ['primary', 'filelists', 'other'] as const;

/** A blob's path below the blob store, which is where createrepo_c reads it: `<aa>/<sha256>`. */
const blobHref = (sha256: string) => `${sha256.slice(0, 2)}/${sha256}`;

/**
 * createrepo_c reading the blobs where they are, the packages named in a list (no directory walked, no
 * scratch copy of the pool layout made and removed): each package's three <package> elements, by the
 * blob's href, which withHref turns into the pool's.
 */
async function yumEntries(blobs: BlobStore, packages: RepoPackage[], dir: string, opts: EntryOptions): Promise<ToolEntries> {
  const shas = [...new Set(packages.map((p) => p.sha256))];
  await pMap(
    shas,
    async (sha) => {
      // where they are: on a machine that lacks one, that is after getting it from the object store (BLOB_STORE)
      if (!(await statOrNull(await blobs.local(sha)))) throw new RdError('RD_INTERNAL', `blob ${sha} is not in the store`);
    },
    { concurrency: 16 },
  );
  await writeFile(join(dir, 'pkglist'), shas.map((sha) => `${blobHref(sha)}\n`).join(''));
  const { stderr } = await runTool(
    'createrepo_c',
    ['--no-database', '--general-compress-type=gz', '--workers=2', '--pkglist', join(dir, 'pkglist'), '--outputdir', dir, blobs.blobsDir],
    { timeoutMs: opts.timeoutMs, env: opts.env },
  );
  const repodata = join(dir, 'repodata');
  const names = await readdir(repodata);
  const [primary, filelists, other] = await Promise.all(
    YUM_FILES.map(async (t) => {
      const name = names.find((n) => n.endsWith(`${t}.xml.gz`));
      if (!name) throw new Error(`createrepo_c wrote no ${t}.xml.gz`);
      return packageElements((await gunzipAsync(await readFile(join(repodata, name)))).toString('utf8'));
    }),
  );
  // filelists and other name a package by pkgid (its sha256) only; primary gives the href of that pkgid
  const hrefOf = new Map<string, string>();
  for (const el of primary!) {
    const id = /<checksum type="sha256" pkgid="YES">([0-9a-f]{64})<\/checksum>/.exec(el)?.[1];
    const href = /<location href="([^"]+)"/.exec(el)?.[1];
    if (id && href) hrefOf.set(id, href);
  }
  const out = new Map<string, string[]>();
  for (const el of primary!) {
    const href = /<location href="([^"]+)"/.exec(el)?.[1];
    if (href) out.set(href, [el]);
  }
  for (const list of [filelists!, other!]) {
    for (const el of list) {
      const id = /^<package pkgid="([0-9a-f]{64})"/.exec(el)?.[1];
      const href = id && hrefOf.get(id);
      if (href) out.get(href)?.push(el);
    }
  }
  for (const [href, parts] of out) if (parts.length !== 3) out.delete(href);
  return { byHref: out, warnings: stderr };
}

/** A package's elements with its pool path in the primary's location (the same bytes may go by two names). */
function withHref(parts: string[] | undefined, p: RepoPackage): string[] | undefined {
  if (!parts) return undefined;
  const href = poolHref(p.sha256, p.filename).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const [primary, ...rest] = parts;
  return [primary!.replace(`<location href="${blobHref(p.sha256)}"/>`, () => `<location href="${href}"/>`), ...rest];
}

/** The <package ...>...</package> elements of a createrepo_c document, each ending with a newline. */
function packageElements(xml: string): string[] {
  const out: string[] = [];
  let at = xml.indexOf('<package ');
  while (at !== -1) {
    const end = xml.indexOf('</package>', at);
    if (end === -1) break;
    out.push(`${xml.slice(at, end + '</package>'.length)}\n`);
    at = xml.indexOf('<package ', end);
  }
  return out;
}

/** apt-ftparchive over a scratch copy of the pool layout (hard links): each package's stanza (Filename: pool/...), by that file name. */
async function aptEntries(blobs: BlobStore, packages: RepoPackage[], dir: string, opts: EntryOptions): Promise<ToolEntries> {
  const at = packages.map((p) => inside(dir, poolHref(p.sha256, p.filename)));
  await pMap(new Set(at.map((a) => dirname(a))), (d) => mkdir(d, { recursive: true }), { concurrency: 16 });
  await pMap(packages, (p, i) => blobs.linkInto(p.sha256, at[i]!), { concurrency: 16 });
  const { stdout, stderr } = await runTool('apt-ftparchive', ['packages', 'pool'], {
    cwd: dir,
    timeoutMs: opts.timeoutMs,
    env: opts.env,
    maxStdoutBytes: 256 * 2 ** 20,
  });
  const out = new Map<string, string[]>();
  for (const stanza of stdout.split(/\n{2,}/)) {
    const href = /^Filename: (.+)$/m.exec(stanza)?.[1];
    if (href) out.set(href, [`${stanza.trim()}\n\n`]);
  }
  return { byHref: out, warnings: stderr };
}

/** Tool output names absolute paths; messages reach tickets, so STORAGE_DIR is not spelled out. */
function asEntryError(e: unknown, storageDir: string): unknown {
  if (!(e instanceof ToolError)) return e;
  const redact = (text: string) => text.split(storageDir).join('$STORAGE_DIR');
  return new RdError('RD_PUBLISH_FAILED', redact(e.message), { tool: e.tool, exitCode: e.exitCode, stderrTail: redact(e.stderrTail) });
}
