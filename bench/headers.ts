/**
 * Reading package headers, the old way (one rpm / dpkg-deb process per package, four at once, as
 * check-headers did) against readPackageHeaders (services/storage/package-headers.ts), on the same test
 * packages, for RPMs and DEBs apart. Checks that both give the same headers. No RT, no database.
 *   node bench/headers.ts [counts=100,1000]
 */
import { deepStrictEqual } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readPackageHeader } from '../services/storage/package-header.ts';
import { type HeaderFile, readPackageHeaders } from '../services/storage/package-headers.ts';
import { buildTestPackages, type TestPackage } from '../test/support/packages.ts';
import { runMain } from './run-main.ts';

const counts = (process.argv[2] ?? '100,1000').split(',').map(Number);

const filesOf = (pkgs: TestPackage[]): HeaderFile[] =>
  pkgs.map((p) => ({ path: p.path, format: p.filename.endsWith('.deb') ? 'deb' : 'rpm', displayName: p.filename }));

/** check-headers before: a queue drained by four workers, one process per package */
async function oldWay(files: HeaderFile[]) {
  const out = new Array(files.length);
  let next = 0;
  const work = async () => {
    for (let i = next++; i < files.length; i = next++)
      out[i] = await readPackageHeader(files[i]!.path, files[i]!.format, files[i]!.displayName);
  };
  await Promise.all(Array.from({ length: 4 }, work));
  return out;
}

async function newWay(files: HeaderFile[]) {
  return (await readPackageHeaders(files)).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function main() {
  const work = await mkdtemp(path.join(process.env.BENCH_TMP ?? tmpdir(), 'rd-bench-headers-'));
  try {
    console.log('packages  format  old (process per package, 4 at once)  new (readPackageHeaders)  old/new');
    for (const n of counts) {
      const pk = await buildTestPackages(path.join(work, String(n)), Math.max(3, n));
      for (const [format, pkgs] of [
        ['rpm', pk.rpms],
        ['deb', pk.debs],
      ] as const) {
        const files = filesOf(pkgs);
        await newWay(files.slice(0, 3)); // warm the page cache and the tools
        const [before, oldMs] = await timed(() => oldWay(files));
        const [after, newMs] = await timed(() => newWay(files));
        deepStrictEqual(after, before);
        console.log(
          `${String(n).padStart(8)}  ${format.padEnd(6)}  ${`${(oldMs / 1000).toFixed(2)} s`.padStart(36)}  ${`${(newMs / 1000).toFixed(3)} s`.padStart(24)}  ${(oldMs / newMs).toFixed(1).padStart(7)}`,
        );
      }
    }
    console.log('(same headers both ways: checked)');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
