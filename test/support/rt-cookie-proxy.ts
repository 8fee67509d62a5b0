/**
 * A loopback HTTP proxy in front of the real RT that turns every write into what releasedesk sent before
 * RT's CSRF fix: the Authorization header is dropped and the session cookie of its last login is sent
 * instead. RT's own referrer check then refuses it (403 "Possible CSRF"), exactly as on a fresh machine.
 * Reads pass untouched. `setMode('pass')` forwards writes as they are.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RtCookieProxy {
  url: string;
  setMode(mode: 'cookie-writes' | 'pass'): void;
  /** writes RT answered with 403 while in cookie-writes mode */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startRtCookieProxy(rtUrl: string): Promise<RtCookieProxy> {
  const target = new URL(rtUrl);
  let mode: 'cookie-writes' | 'pass' = 'cookie-writes';
  let cookie = '';
  let refused = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, host: target.host };
    const write = !['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? 'GET');
    if (write && mode === 'cookie-writes') {
      delete headers.authorization;
      if (cookie) headers.cookie = cookie;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
      const sid = (r.headers['set-cookie'] ?? []).map((c) => c.split(';', 1)[0]!).find((c) => c.startsWith('RT_SID_'));
      if (sid) cookie = sid;
      if (write && mode === 'cookie-writes' && r.statusCode === 403) refused++;
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setMode: (m) => {
      mode = m;
    },
    get refused() {
      return refused;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
