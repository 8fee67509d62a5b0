import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/**
 * dnf against a repo URL (http://, file://) or directory. env: RESOLVE=1, ARCH, GPGKEY, REPOFILE... The
 * repository's signature must verify: with GPGKEY (a file or URL), or else with the key the service serves
 * beside an http repository (PUBLIC_URL/keys/releasedesk.asc), as a site would fetch it.
 */
export function checkYumRepo(repo: string, pkg: string, env: Record<string, string> = {}): Promise<ClientCheck> {
  const key = env.GPGKEY ?? servedKeyUrl(repo);
  return runChecker('check-yum-repo.sh', repo, pkg, key ? { GPGKEY: key, ...env } : env);
}

/** apt-get against a flat repo URL (`deb URL ./`) or directory, signed-by KEY (a file) or the served key. */
export async function checkAptRepo(repo: string, pkg: string, env: Record<string, string> = {}): Promise<ClientCheck> {
  const url = env.KEY ? undefined : servedKeyUrl(repo);
  if (!url) return runChecker('check-apt-repo.sh', repo, pkg, env);
  const dir = await mkdtemp(join(tmpdir(), 'rd-apt-key-'));
  try {
    const res = await fetch(url);
    if (!res.ok) return { ok: false, code: 2, output: `GET ${url}: ${res.status}` };
    await writeFile(join(dir, 'releasedesk.asc'), await res.text());
    return await runChecker('check-apt-repo.sh', repo, pkg, { ...env, KEY: join(dir, 'releasedesk.asc') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** PUBLIC_URL/keys/releasedesk.asc for a repository URL PUBLIC_URL/repos/...; undefined for a directory. */
export function servedKeyUrl(repo: string): string | undefined {
  const m = /^(https?:\/\/.*?)\/repos\//.exec(repo);
  return m ? `${m[1]}/keys/releasedesk.asc` : undefined;
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
export function serveDirectory(root: string, mount = '/repos'): Promise<StaticServer> {
  return serveDirectories({ [mount]: root });
}

/** STORAGE_DIR as the service serves it: repositories at /repos/, public signing keys at /keys/. */
export function serveStorage(storageDir: string): Promise<StaticServer> {
  return serveDirectories({ '/repos': join(storageDir, 'repos'), '/keys': join(storageDir, 'keys') });
}

async function serveDirectories(mounts: Record<string, string>): Promise<StaticServer> {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = Object.keys(mounts).find((m) => path.startsWith(`${m}/`));
    const base = mount === undefined ? '' : resolve(mounts[mount]!);
    const rel = mount === undefined ? null : path.slice(mount.length + 1);
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
