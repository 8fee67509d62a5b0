/**
 * Real mirror targets for tests, each its own processes on free loopback ports, owned by the test (by pid):
 * OpenStack Swift with its S3 API (Debian's swift packages; one replica, four servers) and an rsync daemon.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './service.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

export interface PrivateSwift {
  /** the S3 endpoint, e.g. http://127.0.0.1:PORT */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** where anyone reads a public bucket's objects over plain HTTP (Swift's own API) */
  publicUrl(bucket: string): string;
  /** an s3+http:// MIRROR_TARGETS URL for a bucket */
  targetUrl(bucket: string, prefix?: string): string;
  /** the proxy's pid: what a test kills to make the store go away */
  pid(): number;
  stopProxy(): Promise<void>;
  startProxy(): Promise<void>;
  stop(): Promise<void>;
}

const ACCOUNT = 'releasedesk';
const USER = 'releasedesk';
const KEY = 'releasedesk-test-s3-secret';

/**
 * The three one-device rings, as `swift-ring-builder X create 8 1 1; X add r1z1-127.0.0.1:PORT/d1 1; X rebalance`
 * makes them (the same RingBuilder, the same files), in one Python process instead of nine: each tool run
 * starts Python and imports Swift (~0.8 s), which was most of a private Swift's start.
 */
const RINGS = `
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for kind, port in zip(('account', 'container', 'object'), map(int, sys.argv[2:5])):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'replication_ip': '127.0.0.1',
               'replication_port': port, 'device': 'd1', 'weight': 1.0, 'meta': ''})
    b.rebalance()
    b.validate()
    b.get_ring().save(f'{etc}/{kind}.ring.gz')
    b.save(f'{etc}/{kind}.builder')
`;

/**
 * Swift reads /etc/swift/swift.conf (hash prefix and suffix) whatever its servers' configs say; Debian's
 * package installs one. Everything else (rings, configs, devices) is in a temp directory.
 */
export async function startPrivateSwift(): Promise<PrivateSwift> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rd-swift-'));
  const etc = path.join(dir, 'etc');
  const node = path.join(dir, 'node');
  await mkdir(path.join(node, 'd1'), { recursive: true });
  await mkdir(etc);
  const ports = { object: await freePort(), container: await freePort(), account: await freePort(), proxy: await freePort() };
  const common = `[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 0\nuser = root\nswift_dir = ${etc}\nlog_address = /nonexistent\n`;
  await run('/usr/bin/python3', ['-c', RINGS, etc, String(ports.account), String(ports.container), String(ports.object)]);
  for (const kind of ['account', 'container', 'object'] as const) {
    await writeFile(
      path.join(etc, `${kind}-server.conf`),
      `${common}bind_port = ${ports[kind]}\ndevices = ${node}\nmount_check = false\n` +
        `[pipeline:main]\npipeline = ${kind}-server\n[app:${kind}-server]\nuse = egg:swift#${kind}\n`,
    );
  }
  const filters = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy_logging', 'listing_formats', 'copy', 'slo', 'dlo'];
  await writeFile(
    path.join(etc, 'proxy-server.conf'),
    `${common}bind_port = ${ports.proxy}\n` +
      '[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy_logging cache listing_formats s3api tempauth copy slo dlo proxy_logging proxy-server\n' +
      '[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n' +
      `[filter:tempauth]\nuse = egg:swift#tempauth\nuser_${ACCOUNT}_${USER} = ${KEY} .admin\n` +
      '[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n' +
      // no memcached: tempauth checks S3 signatures without it; the cache's misses are harmless here
      '[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:1\n' +
      filters.map((f) => `[filter:${f}]\nuse = egg:swift#${f}\n`).join(''),
  );
  const procs: Partial<Record<keyof typeof ports, ChildProcess>> = {};
  const startOne = async (kind: keyof typeof ports) => {
    const p = spawn(`swift-${kind}-server`, [path.join(etc, `${kind}-server.conf`)], { stdio: 'ignore' });
    procs[kind] = p;
    await waitHttp(`http://127.0.0.1:${ports[kind]}/healthcheck`, p, 30_000);
  };
  const stopOne = async (kind: keyof typeof ports) => {
    const p = procs[kind];
    if (!p || exited(p)) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  const stop = async () => {
    for (const k of ['proxy', 'object', 'container', 'account'] as const) await stopOne(k);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // the proxy's healthcheck answers without the others: all four start at once
    await Promise.all([startOne('account'), startOne('container'), startOne('object'), startOne('proxy')]);
  } catch (e) {
    await stop();
    throw e;
  }
  const endpoint = `http://127.0.0.1:${ports.proxy}`;
  return {
    endpoint,
    accessKeyId: `${ACCOUNT}:${USER}`,
    secretAccessKey: KEY,
    publicUrl: (bucket) => `${endpoint}/v1/AUTH_${ACCOUNT}/${bucket}`,
    targetUrl: (bucket, prefix) =>
      `s3+http://${encodeURIComponent(`${ACCOUNT}:${USER}`)}:${KEY}@127.0.0.1:${ports.proxy}/${bucket}${prefix ? `/${prefix}` : ''}`,
    pid: () => procs.proxy!.pid!,
    stopProxy: () => stopOne('proxy'),
    startProxy: () => startOne('proxy'),
    stop,
  };
}

/** Resolves once GET url gets any HTTP answer (storage servers have no health page), or fails when the process exits or after `ms`. */
async function waitHttp(url: string, p: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (exited(p)) throw new Error(`${p.spawnfile} exited (${p.exitCode ?? p.signalCode}) before answering ${url}`);
    const ok = await fetch(url)
      .then(() => true)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms`);
    await sleep(100);
  }
}

export interface PrivateRsyncd {
  /** the module's directory: what a site's web server would serve */
  root: string;
  /** rsync://127.0.0.1:PORT/mirror */
  url: string;
  pid(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** rsync --daemon on a free loopback port with one writable module, `mirror`. */
export async function startPrivateRsyncd(): Promise<PrivateRsyncd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rd-rsyncd-'));
  const root = path.join(dir, 'module');
  await mkdir(root);
  const port = await freePort();
  const conf = path.join(dir, 'rsyncd.conf');
  // uid = root: the daemon run by root otherwise writes as nobody and cannot create the tree
  await writeFile(conf, `uid = root\ngid = root\nuse chroot = no\n[mirror]\npath = ${root}\nread only = no\n`);
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'rsync',
      ['--daemon', '--no-detach', `--config=${conf}`, '--address=127.0.0.1', `--port=${port}`, `--log-file=${dir}/log`],
      {
        stdio: 'ignore',
      },
    );
    const p = proc;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (exited(p)) throw new Error(`rsync --daemon on ${port} exited (${p.exitCode})`);
      const up = await run('rsync', ['--list-only', `rsync://127.0.0.1:${port}/`]).then(
        () => true,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`rsync --daemon on ${port} did not answer`);
      await sleep(50);
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p || exited(p)) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  return {
    root,
    url: `rsync://127.0.0.1:${port}/mirror`,
    pid: () => proc!.pid!,
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
