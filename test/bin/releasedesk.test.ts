import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The CLI as people start it: a child process through npm's link, never an import of services/cli/main.ts.
// npx (in this folder) and npm link start it through a symlink to bin/releasedesk.js; the link is made
// here with the same shape npm gives it: node_modules/releasedesk -> the project,
// node_modules/.bin/releasedesk -> ../releasedesk/bin/releasedesk.js.
const root = fileURLToPath(new URL('../../', import.meta.url));
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, RELEASEDESK_URL: '' };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
const exec = (file: string, args: string[], cwd: string) =>
  new Promise<Ran>((resolve) => {
    execFile(file, args, { cwd, env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });

const release = {
  ticket: 42,
  product: 'TP.tool.el9.noarch',
  version: '1.2.3',
  revision: 2,
  platform: 'el9',
  arch: 'noarch',
  status: 'Unverified',
  updatedAt: '2026-01-02T03:04:05.000Z',
};
const listen = (s: Server) =>
  new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
const api = createServer((req, res) => {
  const [status, body] =
    req.url === '/releases' ? [200, { releases: [release] }] : [404, { error: 'RD_NOT_FOUND', message: `no release for ${req.url}` }];
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});

let dir: string;
let bin: string;
let url: string;
let away: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'releasedesk-link-'));
  await mkdir(join(dir, 'node_modules/.bin'), { recursive: true });
  await symlink(root, join(dir, 'node_modules/releasedesk'));
  bin = join(dir, 'node_modules/.bin/releasedesk');
  await symlink('../releasedesk/bin/releasedesk.js', bin);
  url = await listen(api);
  const closed = createServer();
  away = await listen(closed);
  await new Promise((r) => closed.close(r));
});
afterAll(async () => {
  await new Promise((r) => api.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe("releasedesk through npm's bin link", () => {
  it('get prints the releases table and exits 0', async () => {
    const r = await exec(bin, ['--url', url, 'get'], dir);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    for (const col of ['TICKET', 'PRODUCT', 'VERSION', 'REVISION', 'PLATFORM', 'ARCH', 'STATUS', 'UPDATED'])
      expect(r.stdout).toContain(col);
    expect(r.stdout).toMatch(/42\s+│ TP\.tool\.el9\.noarch │ 1\.2\.3\s+│ v2\s+│ el9\s+│ noarch │ Unverified │ 2026-01-02 03:04:05/);
  });
  it("exits 1 with the service's reason, 2 for bad usage, 3 when the service is unreachable", async () => {
    expect(await exec(bin, ['--url', url, 'get', '7'], dir)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/\[RD_NOT_FOUND\] no release for \/releases\/7/),
    });
    expect(await exec(bin, ['--url', url, 'history'], dir)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("missing required argument 'ticket'"),
    });
    const r = await exec(bin, ['--url', away, 'get'], dir);
    expect(r).toMatchObject({ code: 3, stdout: '' });
    expect(r.stderr).toContain(`cannot reach releasedesk at ${away}`);
  });
  it('--help prints the usage and exits 0', async () => {
    const r = await exec(bin, ['--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: releasedesk \[options\] \[command\]/);
    for (const cmd of ['get [ticket]', 'list', 'history <ticket>', 'validate', 'retry <ticket>']) expect(r.stdout).toContain(cmd);
  });
  it("npx releasedesk in the project folder, the README's way, runs it too", async () => {
    const r = await exec('npx', ['releasedesk', '--url', url, 'get'], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/42\s+│ TP\.tool\.el9\.noarch/);
  });
});
