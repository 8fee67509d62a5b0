/**
 * Private PostgreSQL and Redis for fault tests: their own processes on free loopback ports, owned by the
 * test (by pid), so a test may kill and restart them without touching the machine's shared instances.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './service.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once something accepts TCP connections on 127.0.0.1:port, or fails after `ms`. */
async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await sleep(50);
  }
}

const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

export interface PrivateRedis {
  port: number;
  url: string;
  /** pid of the current redis-server */
  pid(): number;
  /** SIGKILL (or SIGTERM) the process; it keeps nothing (no RDB, no AOF) */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** a new redis-server on the same port */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** redis-server on a free loopback port, without persistence: a restart forgets every key. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const p = proc;
    await Promise.race([
      waitForPort(port, 15_000),
      new Promise((_, reject) => p.once('exit', (code) => reject(new Error(`redis-server on ${port} exited (${code})`)))),
    ]);
  };
  const kill = async (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') => {
    const p = proc;
    if (!p || exited(p)) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, pid: () => proc!.pid!, kill, start, stop: () => kill('SIGKILL') };
}

export interface PrivatePostgres {
  port: number;
  /** URL of a database (created by whoever connects first, e.g. the service's ensureDatabase) */
  url(database: string): string;
  /** pid of the current postmaster */
  pid(): number;
  /** pg_ctl stop; `immediate` is a crash as far as clients are concerned */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** pg_ctl start on the same port and data directory (crash recovery after an immediate stop) */
  start(): Promise<void>;
  /** stops the cluster and deletes its directory */
  destroy(): Promise<void>;
}

/** Debian's server binaries: /usr/lib/postgresql/<newest version>/bin. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root}/<version>/bin (apt-get install postgresql)`);
  return path.join(root, newest, 'bin');
}

/** PostgreSQL refuses to run as root: when we are root, the cluster belongs to the `postgres` user. */
async function clusterOwner(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => ({ stdout: '' }));
  const { stdout: g } = await run('id', ['-g', 'postgres']).catch(() => ({ stdout: '' }));
  if (!stdout.trim()) throw new Error('running as root and there is no postgres user to own a private PostgreSQL cluster');
  return { uid: Number(stdout), gid: Number(g) };
}

/**
 * A fresh cluster (initdb, trust authentication for local connections) in a temp directory, listening on a
 * free loopback port, its socket in the same directory. fsync is off: an immediate stop kills processes,
 * not the kernel, so nothing committed is lost; synchronous_commit stays on for the same reason.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const owner = await clusterOwner();
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'rd-pg-'));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const as = (cmd: string, args: string[]) =>
    run(path.join(bin, cmd), args, { ...owner, cwd: dir, timeout: 120_000 }).catch((e) => {
      throw new Error(`${cmd} ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    });
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = async () => {
    await as('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  };
  const pid = () => Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const stop = async (mode: 'immediate' | 'fast' = 'immediate') => {
    if (!existsSync(path.join(data, 'postmaster.pid'))) return;
    await as('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
  };
  await start();
  return {
    port,
    pid,
    stop,
    start,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    destroy: async () => {
      await stop('immediate').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
