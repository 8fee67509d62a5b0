/**
 * The benches' download host: the files under a directory, served by a process of their own, so that the
 * bench's own work (its RT client, its in-process API, its garbage collection) is not on the path of the
 * bytes the service and the raw tools download from it.
 *   const files = await startFileServer(dir); `${files.url}/pkgs/bundle.tar.gz`; await files.close();
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// plain JavaScript, no loader: the server starts in a few milliseconds and does nothing but serve
const SERVER = `
const { createServer } = require('node:http');
const { createReadStream, statSync } = require('node:fs');
const { resolve, sep } = require('node:path');
const root = resolve(process.argv[1]);
const server = createServer((req, res) => {
  const file = resolve(root, '.' + decodeURIComponent(new URL(req.url, 'http://x').pathname));
  let size;
  try {
    if (!file.startsWith(root + sep)) throw new Error('outside');
    size = statSync(file).size;
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

export async function startFileServer(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', SERVER, root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout }).once('line', ok);
    child.once('exit', (code) => fail(new Error(`the file server exited (${code}) before it listened`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill();
      }),
  };
}
