import { randomBytes } from 'node:crypto';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RdError, isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type BodyTarget, fetchBody, fileTarget, StallError, type Progress } from './http-fetch.ts';
import { type BundleLimits, type Seal, type Unpacked, unpackTarget } from './unpack.ts';
import { checkUrl, parseHttpUrl, redact } from './url-policy.ts';

export type { Progress };

/** The blob store, seen from here: a digest already stored is not fetched again. */
export type DownloadCache = {
  has(sha256: string): boolean | Promise<boolean>;
  path(sha256: string): string;
};

export type DownloadOptions = {
  destDir: string;
  maxBytes: number;
  /** Connect timeout and idle-read timeout of one attempt. */
  timeoutMs: number;
  /** The slowest body accepted, averaged over every window of twice timeoutMs; default 1024 (MIN_BYTES_PER_SECOND), 0 = none. */
  minBytesPerSecond?: number;
  allowedHosts: readonly string[];
  expectedSha256?: string;
  onProgress?: (p: Progress) => void;
  logger?: Logger;
  /** Extra attempts after a transient failure; default 3. */
  retries?: number;
  /** First back-off delay, doubled at each retry (capped at 30 s); default 1000 ms. */
  retryDelayMs?: number;
  /** Overall limit for all attempts and back-offs together; default 1 hour. */
  deadlineMs?: number;
  /** Redirects followed; default 3. */
  maxRedirects?: number;
  cache?: DownloadCache;
  /** fsync the file before returning (default true); false when the caller syncs it, or needs it only as scratch */
  durable?: boolean;
  /** The Authorization header for a URL (another desk's bundle endpoint), asked at every hop. */
  authorization?: (url: URL) => string | undefined;
};

export type DownloadResult = {
  /** destDir/<sha256>.<random> (mode 0600), or the cache's path when cached. */
  path: string;
  sha256: string;
  size: number;
  url: string;
  finalUrl: string;
  durationMs: number;
  cached: boolean;
  attempts: number;
};

const DEFAULT_DEADLINE_MS = 60 * 60_000;

/**
 * Streams `url` into destDir, hashing on the way, with the URL policy checked at every redirect
 * and again at connect time. Throws RdError: RD_URL_FORBIDDEN, RD_DOWNLOAD_FAILED (4xx, bad
 * redirects), RD_DOWNLOAD_TOO_LARGE, RD_DIGEST_MISMATCH (permanent), RD_DOWNLOAD_UNAVAILABLE (5xx,
 * network, timeouts, short bodies; transient, after `retries` attempts here). No temp file survives
 * a failure. Errors of our own disk (ENOSPC...) are rethrown unchanged.
 */
export async function download(url: string, opts: DownloadOptions): Promise<DownloadResult> {
  const startedAt = Date.now();
  const expected = normalizeDigest(opts.expectedSha256);
  const start = parseHttpUrl(url);
  const shown = redact(start);
  // the policy holds for cached digests too: a release may not name a host it could not fetch from
  if (expected && opts.cache) await checkUrl(start, opts.allowedHosts);
  const hit = expected && opts.cache ? await fromCache(opts.cache, expected) : undefined;
  if (hit) {
    opts.logger?.info({ url: shown, sha256: expected }, 'download skipped: digest already stored');
    return { ...hit, url: shown, finalUrl: shown, cached: true, attempts: 0, durationMs: Date.now() - startedAt };
  }
  const { value, ...got } = await fetchWithRetries(start, expected, opts, () => fileTarget(opts.destDir, opts.durable));
  const tmp = await value;
  // unique even for the same bytes: concurrent jobs share destDir and each adopts its own file
  const path = join(opts.destDir, `${got.sha256}.${randomBytes(4).toString('hex')}`);
  await rename(tmp, path).catch(async (e: unknown) => {
    await unlink(tmp).catch(() => undefined);
    throw e;
  });
  return { ...got, path, cached: false, durationMs: Date.now() - startedAt };
}

/**
 * A bundle, unpacked into destDir as it arrives, each file hashed as it is written (and given to `seal`
 * before it is closed): the same policy, limits, retries and errors as download(), plus unpackStream's
 * refusals (RD_BUNDLE_*, permanent). The bundle's own digest is judged first: a wrong file is
 * RD_DIGEST_MISMATCH whatever it holds. Nothing of a failed attempt stays.
 */
export async function downloadBundle(
  url: string,
  opts: Omit<DownloadOptions, 'cache' | 'durable'>,
  limits: BundleLimits,
  seal?: Seal,
): Promise<Omit<DownloadResult, 'path' | 'cached'> & Unpacked> {
  const startedAt = Date.now();
  const target = () => unpackTarget(opts.destDir, limits, seal);
  const { value, ...got } = await fetchWithRetries(parseHttpUrl(url), normalizeDigest(opts.expectedSha256), opts, target);
  return { ...got, ...(await value), durationMs: Date.now() - startedAt };
}

type Got<T> = { value: Promise<T>; sha256: string; size: number; url: string; finalUrl: string; attempts: number };

/** Attempts until one body is whole and has the expected digest; `value` is the target's result, which may still refuse it. */
async function fetchWithRetries<T>(
  start: URL,
  expected: string | undefined,
  opts: DownloadOptions,
  target: () => BodyTarget<T>,
): Promise<Got<T>> {
  const shown = redact(start);
  const log = opts.logger?.child({ url: shown });
  const deadline = AbortSignal.timeout(opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const retries = opts.retries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      const got = await fetchBody(start, { ...opts, maxRedirects: opts.maxRedirects ?? 3, deadline }, target);
      if (expected && got.sha256 !== expected) {
        await got.target.discard();
        throw digestMismatch(start, got.sha256, expected);
      }
      log?.info({ sha256: got.sha256, size: got.size, attempt, finalUrl: got.finalUrl }, 'downloaded');
      const value = got.target.done().catch(async (e: unknown) => {
        await got.target.discard();
        throw e;
      });
      return { value, sha256: got.sha256, size: got.size, url: shown, finalUrl: redact(got.finalUrl), attempts: attempt };
    } catch (e) {
      const err = classify(e, shown, deadline, opts);
      if (!isRdError(err) || err.permanent || deadline.aborted || attempt > retries) throw finalError(err, attempt);
      const delay = Math.min(30_000, (opts.retryDelayMs ?? 1000) * 2 ** (attempt - 1));
      log?.warn({ err: err.message, attempt, delayMs: delay }, 'download failed, will retry');
      await sleep(delay, undefined, { signal: deadline }).catch(() => undefined);
      if (deadline.aborted) throw finalError(classify(deadline.reason, shown, deadline, opts), attempt);
    }
  }
}

async function fromCache(cache: DownloadCache, sha256: string) {
  if (!(await cache.has(sha256))) return undefined;
  const path = cache.path(sha256);
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? { path, sha256, size: st.size } : undefined;
}

function normalizeDigest(d: string | undefined): string | undefined {
  if (d === undefined) return undefined;
  const hex = d.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new RdError('RD_DIGEST_MISMATCH', `expected sha256 "${d}" is not 64 hexadecimal digits`, { expected: d });
  }
  return hex;
}

function digestMismatch(url: URL, actual: string, expected: string): RdError {
  const file = safeDecode(basename(url.pathname)) || url.host;
  return new RdError('RD_DIGEST_MISMATCH', `${file}: sha256 ${actual}, expected ${expected}`, {
    file,
    expected,
    actual,
    url: redact(url),
  });
}

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Network trouble becomes RD_DOWNLOAD_UNAVAILABLE (or FAILED for a host that does not exist); RdErrors and disk errors pass. */
function classify(e: unknown, url: string, deadline: AbortSignal, opts: DownloadOptions): unknown {
  if (isRdError(e)) return e;
  if (deadline.aborted) {
    const limit = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    return new RdError('RD_DOWNLOAD_UNAVAILABLE', `GET ${url}: not finished within ${limit} ms`, { url, deadlineMs: limit });
  }
  if (e instanceof StallError) return new RdError('RD_DOWNLOAD_UNAVAILABLE', e.message, { url, timeoutMs: opts.timeoutMs });
  const err = e as NodeJS.ErrnoException;
  if (err?.path !== undefined && err.syscall !== undefined) return e; // our own file system
  const code = err?.code ?? (err?.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOTFOUND') {
    return new RdError('RD_DOWNLOAD_FAILED', `GET ${url}: host name not found`, { url, code });
  }
  const why = [code, err?.message].filter(Boolean).join(' ') || String(e);
  return new RdError('RD_DOWNLOAD_UNAVAILABLE', `GET ${url}: ${why}`, { url, code });
}

function finalError(err: unknown, attempts: number): unknown {
  if (!isRdError(err) || err.permanent || attempts === 1) return err;
  return new RdError(err.code, `${err.message} (gave up after ${attempts} attempts)`, { ...err.details, attempts });
}
