/**
 * A loopback HTTP server that stands in for a software provider's download host.
 * Serves files from a directory and/or an in-memory map, and misbehaves on request: status codes,
 * redirects, slow or endless bodies, lying Content-Length, failures before success.
 *
 *   const p = await startProviderServer({ files: { '/a.rpm': bytes } });
 *   p.route('/flaky.rpm', { body: bytes, failFirst: 1 });   // 500 once, then 200
 *   await download(`${p.url}/flaky.rpm`, ...); p.hits('/flaky.rpm') === 2
 *   await p.close();
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';

export type Route = {
  /** Status to answer; default 200, or 302 when `redirect` is set. */
  status?: number;
  body?: Buffer | string;
  headers?: Record<string, string>;
  /** Location header (absolute, or relative to this server). */
  redirect?: string;
  /**
   * Declared Content-Length: a number, or null to send chunked without one. Default: the real length.
   * A number larger than the body makes the server close the connection after the body (a short read);
   * node refuses to send more than it declared, so for a longer body use `handler` and write to req.socket.
   */
  contentLength?: number | null;
  /** Send this many body bytes, then destroy the socket. */
  truncateAfter?: number;
  /** Trickle: send `chunkSize` bytes (default 1) every `intervalMs`. */
  intervalMs?: number;
  chunkSize?: number;
  /** A body that never ends (zeros, chunked unless contentLength is set), until the client hangs up. */
  endless?: boolean;
  /** Wait this long before sending the status line. */
  headersDelayMs?: number;
  /** Answer `failStatus` (default 500) to the first N requests, then behave as described. */
  failFirst?: number;
  failStatus?: number;
  /** Full control; the other fields are ignored. */
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
};

export type ProviderOptions = {
  /** Files served by URL path, e.g. { '/el9/a.rpm': Buffer }. */
  files?: Record<string, Buffer | string>;
  /** A directory whose files are served under `/`. */
  dir?: string;
  routes?: Record<string, Route>;
};

export type RequestRecord = { method: string; path: string; headers: IncomingMessage['headers'] };

export type ProviderServer = {
  url: string;
  port: number;
  requests: RequestRecord[];
  /** How many requests asked for this path. */
  hits(path: string): number;
  route(path: string, r: Route): void;
  file(path: string, body: Buffer | string): void;
  close(): Promise<void>;
};

export async function startProviderServer(opts: ProviderOptions = {}): Promise<ProviderServer> {
  const files = new Map(Object.entries(opts.files ?? {}).map(([p, b]) => [p, Buffer.from(b)]));
  const routes = new Map(Object.entries(opts.routes ?? {}));
  const requests: RequestRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const seen = requests.filter((r) => r.path === path).length;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    res.on('error', () => undefined);
    const r = routes.get(path) ?? (files.has(path) ? { body: files.get(path) } : undefined);
    if (r?.handler) return r.handler(req, res);
    if (r && seen < (r.failFirst ?? 0)) return void res.writeHead(r.failStatus ?? 500).end('failing on purpose\n');
    const go = () => (r ? answer(res, r, later) : serveDir(opts.dir, path, res));
    if (r?.headersDelayMs) later(r.headersDelayMs, go);
    else go();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    hits: (p) => requests.filter((r) => r.path === p).length,
    route: (p, r) => void routes.set(p, r),
    file: (p, b) => void files.set(p, Buffer.from(b)),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

function answer(res: ServerResponse, r: Route, later: (ms: number, fn: () => void) => void): void {
  const body = Buffer.from(r.body ?? '');
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...r.headers };
  if (r.redirect) headers.location = r.redirect;
  const declared = r.contentLength === undefined ? (r.endless ? null : body.length) : r.contentLength;
  if (declared !== null) headers['content-length'] = String(declared);
  res.writeHead(r.status ?? (r.redirect ? 302 : 200), headers);

  const limit = r.truncateAfter ?? Infinity;
  const step = r.intervalMs !== undefined ? (r.chunkSize ?? 1) : 64 * 1024;
  const zeros = Buffer.alloc(step);
  let sent = 0;
  const pump = (): void => {
    while (!res.destroyed) {
      if (sent >= limit) return void res.destroy();
      const end = r.endless ? Infinity : body.length;
      // a declared length longer than the body: close the connection as a broken server would
      if (sent >= end) {
        if (declared !== null && declared > sent) res.destroy();
        else res.end();
        return;
      }
      const n = Math.min(step, end - sent, limit - sent);
      const chunk = r.endless ? zeros.subarray(0, n) : body.subarray(sent, sent + n);
      sent += n;
      const more = res.write(chunk);
      if (r.intervalMs !== undefined) {
        later(r.intervalMs, pump);
        return;
      }
      if (!more) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

async function serveDir(dir: string | undefined, path: string, res: ServerResponse): Promise<void> {
  const root = dir ? resolve(dir) : undefined;
  const file = root ? resolve(root, `.${decodeURIComponent(path)}`) : undefined;
  const st = file?.startsWith(root + sep) ? await stat(file).catch(() => undefined) : undefined;
  if (!file || !st?.isFile()) return void res.writeHead(404).end('not found\n');
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(st.size) });
  createReadStream(file).pipe(res);
}
