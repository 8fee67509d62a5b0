import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { download, downloadBundle, type DownloadOptions } from '../../../services/artifacts/download.ts';
import { nextHop } from '../../../services/artifacts/http-fetch.ts';
import { fails } from '../../support/errors.ts';
import { startProviderServer, type ProviderServer } from '../../support/provider-server.ts';
import { entry, tarOf } from '../../support/tar.ts';
import { forcedMinor, gcsDuring } from '../../support/gc.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const RPM = randomBytes(100_000);

let provider: ProviderServer;
let root: string; // holds destDir; nothing may appear beside it
let destDir: string;

const opts = (o: Partial<DownloadOptions> = {}): DownloadOptions => ({
  destDir,
  maxBytes: 1_000_000,
  timeoutMs: 2000,
  allowedHosts: ['127.0.0.1'],
  retries: 2,
  retryDelayMs: 10,
  ...o,
});

/** After a failure: destDir is empty (no temp file) and nothing was written beside it. */
async function expectNothingWritten() {
  expect(await readdir(destDir)).toEqual([]);
  expect(await readdir(root)).toEqual(['dest']);
}

beforeAll(async () => {
  provider = await startProviderServer({ files: { '/el9/a.rpm': RPM } });
});
afterAll(() => provider.close());
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-dl-'));
  destDir = join(root, 'dest');
  await mkdir(destDir);
  provider.requests.length = 0;
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('download: success', () => {
  it('streams a 200 into destDir/<sha256>.<random> with mode 0600 and checks the digest', async () => {
    const url = `${provider.url}/el9/a.rpm`;
    const r = await download(url, opts({ expectedSha256: sha(RPM).toUpperCase() }));
    expect(r).toMatchObject({ sha256: sha(RPM), size: RPM.length, url, finalUrl: url, cached: false, attempts: 1 });
    expect(r.path).toMatch(new RegExp(`^${destDir}/${sha(RPM)}\\.[0-9a-f]{8}$`));
    expect(await readFile(r.path)).toEqual(RPM);
    expect((await stat(r.path)).mode & 0o777).toBe(0o600);
    expect(await readdir(destDir)).toEqual([basename(r.path)]);
    expect(provider.requests[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('makes no request when the digest is already stored', async () => {
    const stored = join(root, 'blob');
    await writeFile(stored, RPM);
    const cache = { has: (d: string) => d === sha(RPM), path: () => stored };
    const r = await download(`${provider.url}/el9/a.rpm`, opts({ expectedSha256: sha(RPM), cache }));
    expect(r).toMatchObject({ cached: true, path: stored, size: RPM.length, sha256: sha(RPM), attempts: 0 });
    expect(provider.requests).toHaveLength(0);
  });

  it('refuses a forbidden host even when its digest is already stored', async () => {
    const stored = join(root, 'blob');
    await writeFile(stored, RPM);
    const cache = { has: (d: string) => d === sha(RPM), path: () => stored };
    await fails(download(`http://localhost:${provider.port}/el9/a.rpm`, opts({ expectedSha256: sha(RPM), cache })), 'RD_URL_FORBIDDEN');
    expect(provider.requests).toHaveLength(0);
  });

  it('retries after a 500 and succeeds, logging the retry', async () => {
    provider.route('/flaky.rpm', { body: RPM, failFirst: 1 });
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const r = await download(`${provider.url}/flaky.rpm`, opts({ logger }));
    expect(lines.map((l) => l.msg)).toEqual(['download failed, will retry', 'downloaded']);
    expect(lines[0]).toMatchObject({
      url: `${provider.url}/flaky.rpm`,
      attempt: 1,
      err: `GET ${provider.url}/flaky.rpm answered HTTP 500`,
    });
    expect(r.attempts).toBe(2);
    expect(provider.hits('/flaky.rpm')).toBe(2);
    expect(await readdir(destDir)).toEqual([basename(r.path)]);
  });

  it('follows up to 3 redirects, checking each hop, and reports the final URL', async () => {
    provider.route('/r1', { redirect: '/r2', status: 301 });
    provider.route('/r2', { redirect: `${provider.url}/r3`, status: 307 });
    provider.route('/r3', { redirect: '/el9/a.rpm', status: 308 });
    const r = await download(`${provider.url}/r1`, opts());
    expect(r.finalUrl).toBe(`${provider.url}/el9/a.rpm`);
    expect(r.sha256).toBe(sha(RPM));
  });

  it('reports progress at most every 500 ms or 10 %, ending with the full size', async () => {
    const big = randomBytes(2_000_000);
    provider.route('/big.rpm', { body: big });
    const seen: Array<{ bytes: number; total?: number }> = [];
    await download(`${provider.url}/big.rpm`, opts({ maxBytes: 3_000_000, onProgress: (p) => seen.push(p) }));
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThanOrEqual(12);
    expect(seen.at(-1)).toEqual({ bytes: big.length, total: big.length, url: `${provider.url}/big.rpm` });
  });
});

describe('download: HTTP failures', () => {
  it('404 is permanent and names the URL and status', async () => {
    const e = await fails(download(`${provider.url}/missing.rpm`, opts()), 'RD_DOWNLOAD_FAILED');
    expect(e.message).toBe(`GET ${provider.url}/missing.rpm answered HTTP 404`);
    expect(e.details).toMatchObject({ status: 404 });
    expect(provider.hits('/missing.rpm')).toBe(1);
    await expectNothingWritten();
  });

  it('500 every time ends in RD_DOWNLOAD_UNAVAILABLE after the retries', async () => {
    provider.route('/down.rpm', { status: 500, body: 'oops' });
    const e = await fails(download(`${provider.url}/down.rpm`, opts({ retries: 2 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.permanent).toBe(false);
    expect(e.message).toBe(`GET ${provider.url}/down.rpm answered HTTP 500 (gave up after 3 attempts)`);
    expect(provider.hits('/down.rpm')).toBe(3);
    await expectNothingWritten();
  });

  it('a refused connection is transient', async () => {
    const gone = await startProviderServer();
    await gone.close();
    await fails(download(`${gone.url}/a.rpm`, opts({ retries: 1 })), 'RD_DOWNLOAD_UNAVAILABLE');
    await expectNothingWritten();
  });

  it('more than 3 redirects fail', async () => {
    for (const n of [1, 2, 3, 4]) provider.route(`/loop${n}`, { redirect: n === 4 ? '/el9/a.rpm' : `/loop${n + 1}` });
    const e = await fails(download(`${provider.url}/loop1`, opts()), 'RD_DOWNLOAD_FAILED');
    expect(e.message).toContain('more than 3 redirects');
    expect(provider.hits('/el9/a.rpm')).toBe(0);
    await expectNothingWritten();
  });
});

describe('download: URL policy', () => {
  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/a.rpm'])('%s is forbidden', async (url) => {
    await fails(download(url, opts()), 'RD_URL_FORBIDDEN');
    await expectNothingWritten();
  });

  it('127.0.0.1 is forbidden unless allowed; nothing is requested', async () => {
    await fails(download(`${provider.url}/el9/a.rpm`, opts({ allowedHosts: [] })), 'RD_URL_FORBIDDEN');
    expect(provider.requests).toHaveLength(0);
    await expectNothingWritten();
  });

  it('localhost (resolves to loopback) is forbidden unless listed itself', async () => {
    const e = await fails(download(`http://localhost:${provider.port}/el9/a.rpm`, opts()), 'RD_URL_FORBIDDEN');
    expect(e.message).toContain('resolves to 127.0.0.1');
    expect(provider.requests).toHaveLength(0);
    const ok = await download(`http://localhost:${provider.port}/el9/a.rpm`, opts({ allowedHosts: ['localhost'] }));
    expect(ok.sha256).toBe(sha(RPM));
  });

  it.each([
    ['a name resolving to loopback', (port: number) => `http://localhost:${port}/el9/a.rpm`],
    ['a private address', () => 'http://10.255.255.1/a.rpm'],
    ['link-local metadata', () => 'http://169.254.169.254/latest/meta-data'],
  ])('a redirect from an allowed host to %s is refused', async (_what, target) => {
    provider.route('/bounce', { redirect: target(provider.port) });
    const e = await fails(download(`${provider.url}/bounce`, opts()), 'RD_URL_FORBIDDEN');
    expect(e.permanent).toBe(true);
    expect(provider.hits('/bounce')).toBe(1);
    expect(provider.hits('/el9/a.rpm')).toBe(0);
    await expectNothingWritten();
  });
});

describe('nextHop', () => {
  it('resolves relative locations and refuses an https -> http downgrade', () => {
    expect(nextHop(new URL('https://a.example/x/y.rpm'), '../z.rpm').href).toBe('https://a.example/z.rpm');
    expect(nextHop(new URL('http://a.example/'), 'https://b.example/z.rpm').href).toBe('https://b.example/z.rpm');
    expect(() => nextHop(new URL('https://a.example/'), 'http://a.example/z.rpm')).toThrow(
      expect.objectContaining({ code: 'RD_URL_FORBIDDEN' }),
    );
    expect(() => nextHop(new URL('https://a.example/'), 'http://[zz')).toThrow(expect.objectContaining({ code: 'RD_DOWNLOAD_FAILED' }));
  });
});

describe('download: size, digest and broken bodies', () => {
  it('refuses early when Content-Length exceeds maxBytes', async () => {
    const e = await fails(download(`${provider.url}/el9/a.rpm`, opts({ maxBytes: 1000 })), 'RD_DOWNLOAD_TOO_LARGE');
    expect(e.message).toContain('Content-Length 100000 exceeds the limit of 1000 bytes');
    await expectNothingWritten();
  });

  it('stops a chunked body without Content-Length once it passes maxBytes', async () => {
    provider.route('/chunked.rpm', { body: RPM, contentLength: null });
    const e = await fails(download(`${provider.url}/chunked.rpm`, opts({ maxBytes: 50_000 })), 'RD_DOWNLOAD_TOO_LARGE');
    expect(e.message).toContain('more than 50000 bytes');
    await expectNothingWritten();
  });

  it('stops an endless body at maxBytes', async () => {
    provider.route('/endless.rpm', { endless: true });
    const t0 = Date.now();
    await fails(download(`${provider.url}/endless.rpm`, opts({ maxBytes: 5_000_000 })), 'RD_DOWNLOAD_TOO_LARGE');
    expect(Date.now() - t0).toBeLessThan(5000);
    await expectNothingWritten();
  });

  it('a digest mismatch is permanent, names file, actual and expected, and leaves no file', async () => {
    const expected = 'ab'.repeat(32);
    const e = await fails(download(`${provider.url}/el9/a.rpm`, opts({ expectedSha256: expected })), 'RD_DIGEST_MISMATCH');
    expect(e.message).toBe(`a.rpm: sha256 ${sha(RPM)}, expected ${expected}`);
    expect(e.details).toMatchObject({ file: 'a.rpm', expected, actual: sha(RPM) });
    expect(provider.hits('/el9/a.rpm')).toBe(1);
    await expectNothingWritten();
  });

  it('a malformed expected digest is refused before any request', async () => {
    await fails(download(`${provider.url}/el9/a.rpm`, opts({ expectedSha256: 'abc' })), 'RD_DIGEST_MISMATCH');
    expect(provider.requests).toHaveLength(0);
  });

  it('a body shorter than its Content-Length is transient and leaves no file', async () => {
    provider.route('/short.rpm', { body: 'x'.repeat(10), contentLength: 1000 });
    const e = await fails(download(`${provider.url}/short.rpm`, opts({ retries: 1 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.permanent).toBe(false);
    expect(provider.hits('/short.rpm')).toBe(2);
    await expectNothingWritten();
  });

  it('says how much of its Content-Length came when the server closes early', async () => {
    // raw bytes: node's own server would not send the headers before the connection is destroyed
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 9000\r\nConnection: close\r\n\r\n';
    provider.route('/closed.rpm', {
      handler: (_req, res) => void res.socket!.end(Buffer.concat([Buffer.from(head), Buffer.alloc(5000, 1)])),
    });
    const e = await fails(download(`${provider.url}/closed.rpm`, opts({ retries: 0 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.message).toBe(`GET ${provider.url}/closed.rpm: got 5000 bytes, Content-Length said 9000`);
    await expectNothingWritten();
  });

  it('a connection reset mid-body is transient', async () => {
    provider.route('/reset.rpm', { body: RPM, truncateAfter: 5000 });
    await fails(download(`${provider.url}/reset.rpm`, opts({ retries: 0 })), 'RD_DOWNLOAD_UNAVAILABLE');
    await expectNothingWritten();
  });
});

describe('download: timeouts', () => {
  it('a server that never answers hits the connect/answer timeout', async () => {
    provider.route('/mute.rpm', { body: RPM, headersDelayMs: 10_000 });
    const t0 = Date.now();
    const e = await fails(download(`${provider.url}/mute.rpm`, opts({ timeoutMs: 300, retries: 1 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.message).toContain('no answer for 300 ms');
    expect(Date.now() - t0).toBeLessThan(3000);
    await expectNothingWritten();
  });

  it('a body that stops flowing hits the idle timeout', async () => {
    provider.route('/stuck.rpm', { body: RPM, intervalMs: 60_000, chunkSize: 100 });
    const e = await fails(download(`${provider.url}/stuck.rpm`, opts({ timeoutMs: 300, retries: 0 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.message).toContain('no data for 300 ms');
    await expectNothingWritten();
  });

  it('slow-loris (1 byte/s, never idle long enough) hits the overall deadline within seconds', async () => {
    provider.route('/loris.rpm', { body: RPM, intervalMs: 1000 });
    const t0 = Date.now();
    const e = await fails(
      download(`${provider.url}/loris.rpm`, opts({ timeoutMs: 1000, deadlineMs: 3000, retries: 3 })),
      'RD_DOWNLOAD_UNAVAILABLE',
    );
    expect(Date.now() - t0).toBeLessThan(4500);
    expect(e.message).toMatch(/not finished within 3000 ms|no data for 1000 ms|slower than the minimum/);
    await expectNothingWritten();
  });

  it('a trickle that never idles but stays under the minimum rate ends after twice the idle timeout', async () => {
    provider.route('/trickle.rpm', { body: RPM, intervalMs: 100, chunkSize: 10 }); // 100 bytes/s
    const t0 = Date.now();
    const e = await fails(download(`${provider.url}/trickle.rpm`, opts({ timeoutMs: 500, retries: 0 })), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(e.message).toMatch(/: only \d+ bytes in 1000 ms, slower than the minimum of 1024 bytes\/s$/);
    expect(Date.now() - t0).toBeLessThan(2500);
    await expectNothingWritten();
    // a floor of 0 turns the check off (the trickle then runs into the overall deadline)
    const off = await fails(
      download(`${provider.url}/trickle.rpm`, opts({ timeoutMs: 500, retries: 0, minBytesPerSecond: 0, deadlineMs: 1500 })),
      'RD_DOWNLOAD_UNAVAILABLE',
    );
    expect(off.message).toContain('not finished within 1500 ms');
  });

  it('the deadline is enforced even when bytes keep coming faster than the idle timeout', async () => {
    provider.route('/drip.rpm', { body: RPM, intervalMs: 200, chunkSize: 10 });
    const t0 = Date.now();
    const e = await fails(
      download(`${provider.url}/drip.rpm`, opts({ timeoutMs: 1000, deadlineMs: 1500, minBytesPerSecond: 0 })),
      'RD_DOWNLOAD_UNAVAILABLE',
    );
    expect(e.message).toContain('not finished within 1500 ms');
    expect(Date.now() - t0).toBeLessThan(3000);
    await expectNothingWritten();
  });
});

describe('download: memory', () => {
  it('keeps memory flat while streaming 512 MiB', async () => {
    const size = 512 * 2 ** 20;
    const chunk = Buffer.alloc(2 ** 20, 7);
    provider.route('/huge.rpm', {
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': String(size) });
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      },
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const r = await download(`${provider.url}/huge.rpm`, opts({ maxBytes: size }));
      expect(r.size).toBe(size);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - before).toBeLessThan(128 * 2 ** 20);
  });

  it('frees the dead buffers of the body with a young collection per MiB (young-gc.ts)', async () => {
    const body = randomBytes(8 * 2 ** 20);
    provider.route('/eight.rpm', { body });
    const gcs = await gcsDuring(async () => {
      const r = await download(`${provider.url}/eight.rpm`, opts({ maxBytes: body.length }));
      expect(r.sha256).toBe(sha(body));
    });
    expect(forcedMinor(gcs)).toBeGreaterThanOrEqual(7);
    expect(forcedMinor(gcs)).toBeLessThanOrEqual(8);
  });
});

describe('downloadBundle: unpacked as it arrives', () => {
  const LIMITS = { maxEntries: 10, maxBytes: 1_000_000 };
  const A = randomBytes(50_000);
  const good = gzipSync(tarOf(entry({ path: 'rpm/a.rpm', body: A }), entry({ path: 'README', body: 'hi' })));
  const bundleDir = () => join(destDir, 'bundle');

  it('writes each file once, with the digest taken on the way, and never the bundle itself', async () => {
    provider.route('/b.tar.gz', { body: good });
    const r = await downloadBundle(`${provider.url}/b.tar.gz`, opts({ destDir: bundleDir(), expectedSha256: sha(good) }), LIMITS);
    expect(r).toMatchObject({ sha256: sha(good), size: good.length, attempts: 1 });
    expect(r.files.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: 'README', size: 2, sha256: sha(Buffer.from('hi')) },
      { path: 'rpm/a.rpm', size: A.length, sha256: sha(A) },
    ]);
    expect(await readFile(join(bundleDir(), 'rpm/a.rpm'))).toEqual(A);
    expect(await readdir(destDir)).toEqual(['bundle']); // no .part, no bundle file
  });

  it('judges the digest first: a wrong file is RD_DIGEST_MISMATCH whatever it holds, and leaves nothing', async () => {
    const junk = randomBytes(30_000);
    provider.route('/junk.tar.gz', { body: junk });
    await fails(downloadBundle(`${provider.url}/junk.tar.gz`, opts({ expectedSha256: sha(good) }), LIMITS), 'RD_DIGEST_MISMATCH');
    provider.route('/good-wrong.tar.gz', { body: good });
    await fails(downloadBundle(`${provider.url}/good-wrong.tar.gz`, opts({ expectedSha256: sha(junk) }), LIMITS), 'RD_DIGEST_MISMATCH');
    expect(await readdir(destDir)).toEqual([]);
    await fails(
      downloadBundle(`${provider.url}/junk.tar.gz`, opts({ destDir: bundleDir(), expectedSha256: sha(junk) }), LIMITS),
      'RD_BUNDLE_CORRUPT',
    );
    expect(await readdir(destDir)).toEqual([]);
  });

  it('refuses an unsafe bundle after reading it to its end, once, and leaves nothing', async () => {
    const evil = gzipSync(tarOf(entry({ path: 'a.rpm', body: A }), entry({ path: '../evil', body: 'x' }), entry({ path: 'z', body: A })));
    provider.route('/evil.tar.gz', { body: evil });
    const e = await fails(downloadBundle(`${provider.url}/evil.tar.gz`, opts({ expectedSha256: sha(evil) }), LIMITS), 'RD_BUNDLE_UNSAFE');
    expect(e.message).toContain('"../evil"');
    expect(provider.hits('/evil.tar.gz')).toBe(1);
    expect(await readdir(destDir)).toEqual([]);
    expect(await readdir(root)).toEqual(['dest']);
  });

  it('a bundle cut short is transient: the next attempt starts from an empty directory and succeeds', async () => {
    provider.route('/cut.tar.gz', { body: good, truncateAfter: 20_000 });
    await fails(downloadBundle(`${provider.url}/cut.tar.gz`, opts({ retries: 0 }), LIMITS), 'RD_DOWNLOAD_UNAVAILABLE');
    expect(await readdir(destDir)).toEqual([]);
    provider.route('/flaky.tar.gz', { body: good, failFirst: 1 });
    const r = await downloadBundle(`${provider.url}/flaky.tar.gz`, opts(), LIMITS);
    expect(r.attempts).toBe(2);
    expect(r.files).toHaveLength(2);
  });

  it('a bomb stops at its first entry over the limit, in little memory', async () => {
    const header = Buffer.alloc(512);
    new Header({ path: 'zeros', type: 'File', size: 2 ** 30, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
    const bomb = Buffer.concat([gzipSync(header), gzipSync(Buffer.alloc(64 * 2 ** 20), { level: 9 })]);
    provider.route('/bomb.tar.gz', { body: bomb });
    const rss = process.memoryUsage().rss;
    const e = await fails(downloadBundle(`${provider.url}/bomb.tar.gz`, opts(), LIMITS), 'RD_BUNDLE_LIMIT');
    expect(e.message).toContain('(at "zeros")');
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(await readdir(destDir)).toEqual([]);
  });
});
