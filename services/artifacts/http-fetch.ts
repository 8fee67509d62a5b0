import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { unlink } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import axios from 'axios';
import { isRdError, RdError } from '../errors.ts';
import { youngGcEvery } from '../young-gc.ts';
import { checkUrl, guardedLookup, redact } from './url-policy.ts';

/** One GET (and its redirects) streamed into a BodyTarget: the network half of download(). */

export type Progress = { bytes: number; total?: number; url: string };

export type FetchContext = {
  destDir: string;
  maxBytes: number;
  timeoutMs: number;
  allowedHosts: readonly string[];
  maxRedirects: number;
  /** Aborts everything when the overall deadline passes. */
  deadline: AbortSignal;
  /** The slowest body accepted, averaged over every window of twice timeoutMs; default MIN_BYTES_PER_SECOND, 0 = none. */
  minBytesPerSecond?: number;
  onProgress?: (p: Progress) => void;
  /** The Authorization header for this URL, asked at every hop: a redirect elsewhere does not carry it on. */
  authorization?: (url: URL) => string | undefined;
};

/** Where one attempt's body goes: a temp file (fileTarget), or a bundle unpacked as it arrives (unpackTarget). */
export interface BodyTarget<T> {
  readonly writable: Writable;
  /** Once the body is written whole: the result, or why the bytes are refused. */
  done(): Promise<T>;
  /** The attempt failed, or its bytes are not the ones expected: nothing of it stays. */
  discard(): Promise<void>;
}

export type Fetched<T> = { sha256: string; size: number; finalUrl: string; target: BodyTarget<T> };

/** The body in destDir/.download-<random>.part, mode 0600 until verified; done() gives its path. */
export function fileTarget(destDir: string, durable = true): BodyTarget<string> {
  const tmpPath = join(destDir, `.download-${randomBytes(8).toString('hex')}.part`);
  // flush = fsync before close, so a "downloaded" checkpoint survives a crash (unless the caller syncs it
  // itself: BlobStore.adoptAll does, for a whole release at once)
  const out = createWriteStream(tmpPath, { flags: 'wx', mode: 0o600, flush: durable });
  return {
    writable: out,
    done: async () => tmpPath,
    async discard() {
      // a body refused at its first chunk fails the pipeline while the file is still being opened: the
      // stream creates it after that, so it is removed only once the stream has closed
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
    },
  };
}

/** A timeout of one attempt (no answer, or no data for timeoutMs): transient. */
export class StallError extends Error {
  override name = 'StallError';
}

/**
 * A body that keeps trickling never trips the idle timeout (slow-loris): without a floor it would hold a worker
 * until the overall deadline. 1 KiB/s is far below any real mirror and still ends a trickle within seconds.
 */
export const MIN_BYTES_PER_SECOND = 1024;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** 4xx that mean "try again later" rather than "this URL is wrong". */
const TRANSIENT_4XX = new Set([408, 425, 429]);

export async function fetchBody<T>(startUrl: URL, ctx: FetchContext, target: () => BodyTarget<T>): Promise<Fetched<T>> {
  let url = startUrl;
  for (let hop = 0; ; hop++) {
    await checkUrl(url, ctx.allowedHosts);
    const r = await fetchOnce(url, ctx, target);
    if (!('location' in r)) return { ...r, finalUrl: url.href };
    if (hop >= ctx.maxRedirects) {
      throw new RdError('RD_DOWNLOAD_FAILED', `GET ${redact(startUrl)}: more than ${ctx.maxRedirects} redirects`, {
        url: redact(startUrl),
        lastUrl: redact(url),
      });
    }
    url = nextHop(url, r.location);
  }
}

function authorizationFor(url: URL, ctx: FetchContext): Record<string, string> {
  const value = ctx.authorization?.(url);
  return value ? { authorization: value } : {};
}

/** The next URL of a redirect; an https -> http downgrade is refused. */
export function nextHop(from: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new RdError('RD_DOWNLOAD_FAILED', `GET ${redact(from)} redirected to an invalid URL`, { url: redact(from), location });
  }
  if (from.protocol === 'https:' && next.protocol === 'http:') {
    throw new RdError('RD_URL_FORBIDDEN', `${redact(from)}: redirect from https to http (${redact(next)}) is not allowed`, {
      url: redact(from),
      location: redact(next),
    });
  }
  return next;
}

async function fetchOnce<T>(
  url: URL,
  ctx: FetchContext,
  target: () => BodyTarget<T>,
): Promise<Omit<Fetched<T>, 'finalUrl'> | { location: string }> {
  const shown = redact(url);
  const stall = new AbortController();
  const signal = AbortSignal.any([stall.signal, ctx.deadline]);
  let timer: NodeJS.Timeout | undefined;
  const watch = (why: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new StallError(`GET ${shown}: ${why} for ${ctx.timeoutMs} ms`)), ctx.timeoutMs);
  };
  let refused: RdError | undefined;
  const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  try {
    watch('no answer');
    const res = await axios
      .get<Readable>(url.href, {
        responseType: 'stream',
        maxRedirects: 0,
        decompress: false,
        proxy: false,
        maxContentLength: -1,
        validateStatus: () => true,
        signal,
        httpAgent: agent,
        httpsAgent: agent,
        lookup: guardedLookup(ctx.allowedHosts, (e) => (refused = e)),
        headers: { 'accept-encoding': 'identity', 'user-agent': 'releasedesk', ...authorizationFor(url, ctx) },
      })
      .catch((e: unknown) => {
        throw refused ?? signal.reason ?? e;
      });
    const body = res.data;
    if (res.status !== 200) {
      body.destroy();
      const location = res.headers.location;
      if (REDIRECTS.has(res.status) && typeof location === 'string') return { location };
      throw statusError(shown, res.status);
    }
    const declared = contentLength(res.headers['content-length']);
    if (declared !== undefined && declared > ctx.maxBytes) {
      body.destroy();
      throw tooLarge(shown, ctx.maxBytes, `Content-Length ${declared}`);
    }
    const floor = rateFloor(ctx, shown, stall);
    const onChunk = (n: number) => {
      watch('no data');
      floor.add(n);
    };
    const got = await streamBody(body, target(), { ...ctx, url: shown, total: declared, signal, onChunk }).finally(floor.stop);
    if (declared !== undefined && got.size !== declared) {
      await got.target.discard();
      throw shortBody(shown, got.size, declared);
    }
    return got;
  } catch (e) {
    throw refused ?? (signal.aborted ? signal.reason : e);
  } finally {
    clearTimeout(timer);
    agent.destroy();
  }
}

const shortBody = (url: string, size: number, declared: number) =>
  new RdError('RD_DOWNLOAD_UNAVAILABLE', `GET ${url}: got ${size} bytes, Content-Length said ${declared}`, { url, size, declared });

/** Aborts (as a stall) a body slower than ctx.minBytesPerSecond over a window of twice the idle timeout. */
function rateFloor(ctx: FetchContext, url: string, stall: AbortController) {
  const rate = ctx.minBytesPerSecond ?? MIN_BYTES_PER_SECOND;
  const windowMs = 2 * ctx.timeoutMs;
  const need = Math.ceil((rate * windowMs) / 1000);
  let got = 0;
  const timer =
    rate <= 0
      ? undefined
      : setInterval(() => {
          if (got < need)
            stall.abort(new StallError(`GET ${url}: only ${got} bytes in ${windowMs} ms, slower than the minimum of ${rate} bytes/s`));
          got = 0;
        }, windowMs);
  return {
    add: (n: number) => {
      got += n;
    },
    stop: () => clearInterval(timer),
  };
}

type StreamCtx = FetchContext & { url: string; total?: number; signal: AbortSignal; onChunk: (bytes: number) => void };

async function streamBody<T>(body: Readable, target: BodyTarget<T>, ctx: StreamCtx): Promise<Omit<Fetched<T>, 'finalUrl'>> {
  const hash = createHash('sha256');
  const report = progressReporter(ctx);
  const freeBuffers = youngGcEvery();
  let size = 0;
  try {
    await pipeline(
      body,
      async function* meter(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > ctx.maxBytes) throw tooLarge(ctx.url, ctx.maxBytes, `more than ${ctx.maxBytes} bytes`);
          ctx.onChunk(chunk.length);
          hash.update(chunk);
          report(size);
          yield chunk;
          // resumed once the target took the chunk: most buffers of the bytes before it (the socket's reads,
          // gunzip's output) are dead by now
          freeBuffers(chunk.length);
        }
      },
      target.writable,
      { signal: ctx.signal },
    );
    report(size, true);
    return { sha256: hash.digest('hex'), size, target };
  } catch (e) {
    await target.discard();
    // the server closed the connection before the length it declared: say so, not "socket hang up"
    const closedEarly = ctx.total !== undefined && size < ctx.total && !ctx.signal.aborted;
    if (closedEarly && !isRdError(e) && (e as NodeJS.ErrnoException)?.path === undefined) throw shortBody(ctx.url, size, ctx.total!);
    throw e;
  }
}

/** Calls onProgress at most every 500 ms or every 10 % of the declared size, and once at the end. */
function progressReporter(ctx: StreamCtx): (bytes: number, last?: boolean) => void {
  let lastAt = Date.now();
  let lastTenth = 0;
  return (bytes, last = false) => {
    if (!ctx.onProgress) return;
    const tenth = ctx.total ? Math.floor((bytes * 10) / ctx.total) : 0;
    if (!last && Date.now() - lastAt < 500 && tenth <= lastTenth) return;
    lastAt = Date.now();
    lastTenth = tenth;
    try {
      ctx.onProgress({ bytes, ...(ctx.total !== undefined && { total: ctx.total }), url: ctx.url });
    } catch {
      // a failing progress display must not fail the download
    }
  };
}

function contentLength(v: unknown): number | undefined {
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

const tooLarge = (url: string, limit: number, what: string) =>
  new RdError('RD_DOWNLOAD_TOO_LARGE', `GET ${url}: ${what} exceeds the limit of ${limit} bytes`, { url, limit });

function statusError(url: string, status: number): RdError {
  const message = `GET ${url} answered HTTP ${status}`;
  const transient = status >= 500 || TRANSIENT_4XX.has(status);
  return new RdError(transient ? 'RD_DOWNLOAD_UNAVAILABLE' : 'RD_DOWNLOAD_FAILED', message, { url, status });
}
