import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Acceptance checks with the REAL clients: dnf and apt-get, each with fully private state (see the
 * scripts). ok only if the client reads the metadata, sees the package and downloads it.
 * code: 0 ok, 1 metadata unreadable, 2 usage, 3 tool missing, 4 package not visible,
 * 5 download / dependency resolution failed.
 */
export interface ClientCheck {
  ok: boolean;
  code: number;
  output: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** dnf against a repo URL (http://, file://) or directory. env: RESOLVE=1, ARCH, GPGKEY... */
export function checkYumRepo(repo: string, pkg: string, env: Record<string, string> = {}): Promise<ClientCheck> {
  return runChecker('check-yum-repo.sh', repo, pkg, env);
}

/** apt-get against a flat repo URL (`deb URL ./`) or directory. env: SUITE, RESOLVE=1, KEY... */
export function checkAptRepo(repo: string, pkg: string, env: Record<string, string> = {}): Promise<ClientCheck> {
  return runChecker('check-apt-repo.sh', repo, pkg, env);
}

function runChecker(script: string, repo: string, pkg: string, env: Record<string, string>): Promise<ClientCheck> {
  return new Promise((done) => {
    execFile('bash', [join(HERE, script), repo, pkg], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ ok: code === 0, code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

export interface StaticServer {
  /** http://127.0.0.1:PORT (no trailing slash): use as PUBLIC_URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves root at `mount` on 127.0.0.1 like the service does with express.static: GET/HEAD only,
 * symlinks followed, dot-segments (".versions") not served, nothing outside root.
 */
export async function serveDirectory(root: string, mount = '/repos'): Promise<StaticServer> {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = path.startsWith(`${mount}/`) ? path.slice(mount.length + 1) : null;
    const file = rel === null ? null : resolve(base, rel);
    const hidden = rel === null || rel.split('/').some((s) => s.startsWith('.'));
    const st = file && !hidden && (file === base || file.startsWith(base + sep)) ? await stat(file).catch(() => null) : null;
    if (!file || !st?.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections(); // clients' keep-alive sockets must not hold the test open
      }),
  };
}
