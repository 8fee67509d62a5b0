/**
 * What a release of small packages asks of the file system, per file: write it (open, writev, close), then
 * store it (stat it, stat its blob path, link, unlink). Made two ways in one run, alternating: through
 * libuv's pool (fs/promises, as many in flight as the code had: 8 files open, 16 calls) and on the event
 * loop's thread, a turn of the loop every 64 files (services/storage/fs-now.ts). Prints wall time and the
 * process's CPU (every thread: the pool's included) for each, medians, and their ratios.
 *   node bench/fs-calls.ts [files=2000] [bytes=5600] [rounds=5]
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, statSync, unlinkSync, writevSync } from 'node:fs';
import { link, mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { inTurns, statNow } from '../services/storage/fs-now.ts';
import { runMain } from './run-main.ts';
import { median } from './stats.ts';

const files = Number(process.argv[2] ?? 2000);
const bytes = Number(process.argv[3] ?? 5600);
const rounds = Number(process.argv[4] ?? 5);
const body = randomBytes(bytes);

async function pool(dir: string, names: string[]) {
  const writes = pLimit(8);
  await Promise.all(
    names.map((n) =>
      writes(async () => {
        const fh = await open(path.join(dir, n), 'wx', 0o644);
        await fh.writev([body]);
        await fh.close();
      }),
    ),
  );
  const calls = pLimit(16);
  await Promise.all(
    names.map((n) =>
      calls(async () => {
        await stat(path.join(dir, n));
        await stat(path.join(dir, 'store', n)).catch(() => null);
        await link(path.join(dir, n), path.join(dir, 'store', n));
        await unlink(path.join(dir, n));
      }),
    ),
  );
}

async function thisThread(dir: string, names: string[]) {
  await inTurns(names, (n) => {
    const fd = openSync(path.join(dir, n), 'wx', 0o644);
    writevSync(fd, [body]);
    closeSync(fd);
  });
  await inTurns(names, (n) => {
    statSync(path.join(dir, n));
    statNow(path.join(dir, 'store', n));
    linkSync(path.join(dir, n), path.join(dir, 'store', n));
    unlinkSync(path.join(dir, n));
  });
}

async function measure(way: typeof pool): Promise<{ ms: number; cpuMs: number }> {
  const dir = await mkdtemp(path.join(process.env.BENCH_TMP ?? tmpdir(), 'rd-fs-calls-'));
  mkdirSync(path.join(dir, 'store'));
  const names = Array.from({ length: files }, (_, i) => `p${i}.rpm`);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await way(dir, names);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await rm(dir, { recursive: true, force: true });
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}

async function main() {
  await measure(pool); // warm-up: the first run pays the directory's and the code's first touches
  await measure(thisThread);
  const got = { pool: [] as Array<{ ms: number; cpuMs: number }>, now: [] as Array<{ ms: number; cpuMs: number }> };
  for (let r = 0; r < rounds; r++) {
    got.pool.push(await measure(pool));
    got.now.push(await measure(thisThread));
  }
  const row = (name: string, xs: Array<{ ms: number; cpuMs: number }>) =>
    console.log(
      `  ${name.padEnd(30)} ${median(xs.map((x) => x.ms))
        .toFixed(0)
        .padStart(6)} ms   CPU ${median(xs.map((x) => x.cpuMs))
        .toFixed(0)
        .padStart(6)} ms`,
    );
  console.log(`${files} files of ${bytes} bytes written, then stored (stat, stat, link, unlink); medians of ${rounds}:`);
  row('through the pool (fs/promises)', got.pool);
  row('on the thread (fs-now.ts)', got.now);
  const ratio = (f: (x: { ms: number; cpuMs: number }) => number) => (median(got.pool.map(f)) / median(got.now.map(f))).toFixed(2);
  console.log(`  pool / thread: wall ${ratio((x) => x.ms)}, CPU ${ratio((x) => x.cpuMs)}`);
}

runMain(main);
