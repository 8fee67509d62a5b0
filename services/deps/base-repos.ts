import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { download } from '../artifacts/download.ts';
import { hostOf, redact } from '../artifacts/url-policy.ts';
import { isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { primaryLocation, readPackages, readPrimary, utf8, type ProvideIndex } from './repo-metadata.ts';

/**
 * Base repositories (the OS): what their published metadata provides, read from the network. A YUM
 * repository is read through repodata/repomd.xml -> primary.xml; an APT one from the Packages file
 * of the directory configured. The file goes to a scratch file (size-capped, digest-checked where
 * repomd.xml gives a sha256) and is parsed from there as a stream.
 */

/** One BASE_REPOS entry: for releases of this platform ('*' = every platform) and kind of repository. */
export interface BaseRepo {
  platform: string;
  kind: 'yum' | 'apt';
  /** The repository base (YUM) or the directory holding Packages(.gz) (APT); ends with '/'. */
  url: string;
}

export interface BaseRepoContent {
  url: string;
  packages: number;
  provides: ProvideIndex;
}

export interface FetchLimits {
  /** Scratch files go into a private directory under here, removed when done. */
  tmpDir: string;
  /** Cap of each download and of each file once decompressed. */
  maxBytes: number;
  timeoutMs: number;
  /**
   * Hosts admitted although private or loopback, besides the base repository's own host: the
   * operator configured that one, so the provider URL policy is not applied to it; a redirect to
   * another private host is still refused.
   */
  allowedHosts: readonly string[];
  log?: Logger;
}

/** The base repositories that count for a release: its kind of repository, and its platform or '*'. */
export function baseReposFor(repos: readonly BaseRepo[], repoKind: string | null, platform: string | null): BaseRepo[] {
  const p = (platform ?? '').toLowerCase();
  return repos.filter((r) => r.kind === repoKind && (r.platform === '*' || r.platform === p));
}

/** One download of a base repository's metadata; metadata is small, one network retry here, then the job retries. */
const DEADLINE_MS = 10 * 60_000;

export async function loadBaseRepo(repo: BaseRepo, limits: FetchLimits): Promise<BaseRepoContent> {
  await mkdir(limits.tmpDir, { recursive: true });
  const dir = await mkdtemp(join(limits.tmpDir, 'base-repo-'));
  try {
    const base = new URL(repo.url);
    const fetch = (u: URL, sha256?: string) =>
      fetchFile(u, dir, { ...limits, allowedHosts: [hostOf(base), ...limits.allowedHosts] }, sha256);
    const provides: ProvideIndex = new Map();
    if (repo.kind === 'yum') {
      const repomdUrl = new URL('repodata/repomd.xml', base);
      const primary = primaryLocation(await readFile(await fetch(repomdUrl), 'utf8'));
      if (!primary) throw new Error(`${redact(repomdUrl)} lists no primary metadata`);
      const file = await fetch(new URL(primary.href, base), primary.sha256);
      return { url: redact(base), packages: await readMetadataFile(file, 'yum', limits.maxBytes, provides), provides };
    }
    const file = await fetch(new URL('Packages.gz', base)).catch((e: unknown) => {
      // only "not there" falls back to the plain file; a mirror that is down is down for both
      if (isRdError(e) && e.code === 'RD_DOWNLOAD_FAILED') return fetch(new URL('Packages', base));
      throw e;
    });
    return { url: redact(base), packages: await readMetadataFile(file, 'apt', limits.maxBytes, provides), provides };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function fetchFile(url: URL, dir: string, limits: FetchLimits, expectedSha256?: string): Promise<string> {
  const got = await download(url.href, {
    destDir: dir,
    maxBytes: limits.maxBytes,
    timeoutMs: limits.timeoutMs,
    allowedHosts: limits.allowedHosts,
    ...(expectedSha256 && { expectedSha256 }),
    ...(limits.log && { logger: limits.log }),
    retries: 1,
    deadlineMs: DEADLINE_MS,
  });
  return got.path;
}

/**
 * Parses a primary.xml (yum) or Packages (apt) file, plain or compressed, into `provides` as a stream;
 * returns the number of packages. Decompressed text beyond maxBytes is refused (a decompression bomb).
 */
export async function readMetadataFile(path: string, kind: BaseRepo['kind'], maxBytes: number, provides: ProvideIndex): Promise<number> {
  const inflate = await inflater(path);
  let packages = 0;
  let failure: unknown; // the parser's own error, not the abort it causes upstream
  const parse = async (bytes: AsyncIterable<Buffer>) => {
    const text = utf8(capped(bytes, maxBytes));
    packages = await (kind === 'yum' ? readPrimary(text, provides) : readPackages(text, provides)).catch((e: unknown) => {
      failure = e;
      throw e;
    });
  };
  const run = inflate ? pipeline(createReadStream(path), inflate, parse) : pipeline(createReadStream(path), parse);
  await run.catch((e: unknown) => {
    throw failure ?? e;
  });
  return packages;
}

async function* capped(bytes: AsyncIterable<Buffer>, maxBytes: number): AsyncIterable<Buffer> {
  let total = 0;
  for await (const chunk of bytes) {
    total += chunk.length;
    if (total > maxBytes) throw new Error(`the metadata is larger than ${maxBytes} bytes once decompressed`);
    yield chunk;
  }
}

const MAGIC: Array<[string, Buffer]> = [
  ['gzip', Buffer.from('1f8b', 'hex')],
  ['zstd', Buffer.from('28b52ffd', 'hex')],
  ['xz', Buffer.from('fd377a585a00', 'hex')],
  ['bzip2', Buffer.from('BZh')],
];

/** zlib's zstd decoder exists from Node 22.15 on; before that zstd metadata is refused by name. */
const zstdDecompress = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;

/** The decoder of a file by its first bytes (not its name: mirrors mislabel), or undefined when plain. */
async function inflater(path: string): Promise<Transform | undefined> {
  const head = Buffer.alloc(6);
  const fh = await open(path);
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  const codec = MAGIC.find(([, m]) => head.subarray(0, m.length).equals(m))?.[0];
  if (codec === 'gzip') return zlib.createGunzip();
  if (codec === 'zstd' && zstdDecompress) return zstdDecompress();
  if (codec) {
    const readable = `gzip${zstdDecompress ? ', zstd' : ''} or uncompressed`;
    throw new Error(`the metadata is ${codec}-compressed; releasedesk on Node ${process.version} reads ${readable} metadata only`);
  }
  return undefined;
}
