/**
 * What the RPM reader (services/storage/rpm-reader.ts) costs against the tools run once over the same
 * packages, as a release's check-headers asks for them: the headers (readPackageHeaders against one
 * `rpm -qp --qf RPM_QF` for all of them) and the index entries (makeIndexEntries against one
 * `createrepo_c --no-database --pkglist` over the same blobs). The reader is warm, as in a worker that has
 * run one release. Medians of 5 alternations; checks that the reader gives the tools' bytes. No RT, no database.
 *   node bench/entries.ts [counts=100,1000]
 */
import { execFile } from 'node:child_process';
import { deepStrictEqual } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { BlobStore } from '../services/storage/blobs.ts';
import { makeIndexEntries } from '../services/storage/index-entries.ts';
import { RPM_QF, rpmQuery } from '../services/storage/package-header.ts';
import { readPackageHeaders } from '../services/storage/package-headers.ts';
import { adoptTestPackages, buildTestPackages } from '../test/support/packages.ts';
import { runMain } from './run-main.ts';
import { median } from './stats.ts';

const exec = promisify(execFile);
const counts = (process.argv[2] ?? '100,1000').split(',').map(Number);
const ROUNDS = 5;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main() {
  const work = await mkdtemp(path.join(process.env.BENCH_TMP ?? tmpdir(), 'rd-bench-entries-'));
  try {
    console.log('packages  work      tools once   RPM reader   tools/reader');
    for (const n of counts) {
      const pk = await buildTestPackages(path.join(work, String(n)), Math.max(3, n));
      const storageDir = path.join(work, `store-${n}`);
      const blobs = new BlobStore(storageDir);
      await blobs.init();
      const pkgs = (await adoptTestPackages(blobs, pk.rpms)).map((p) => ({ ...p, path: blobs.path(p.sha256) }));
      const files = pkgs.map((p) => ({ path: p.path, format: 'rpm' as const, displayName: p.filename }));
      const opts = { tmpDir: path.join(storageDir, 'tmp'), timeoutMs: 600_000 };
      const list = path.join(work, `pkglist-${n}`);
      await writeFile(list, pkgs.map((p) => `${path.relative(blobs.blobsDir, p.path)}\n`).join(''));
      const createrepo = async () => {
        const out = await mkdtemp(path.join(work, 'cr-'));
        await exec('createrepo_c', [
          '--no-database',
          '--general-compress-type=gz',
          '--workers=2',
          '--pkglist',
          list,
          '--outputdir',
          out,
          blobs.blobsDir,
        ]);
        return out;
      };
      // the same headers and the same elements both ways (the reader is warm after this)
      const headers = await readPackageHeaders(files);
      deepStrictEqual(
        headers.map((h) => h.status),
        files.map(() => 'fulfilled'),
      );
      const entries = await makeIndexEntries(storageDir, 'yum', pkgs, opts);
      const out = await createrepo();
      const doc = await readdir(path.join(out, 'repodata'));
      const primary = gunzipSync(await readFile(path.join(out, 'repodata', doc.find((d) => d.endsWith('primary.xml.gz'))!))).toString();
      for (const e of entries.slice(0, 10)) {
        const mine = gunzipSync(e.parts[0]!)
          .toString()
          .replace(`pool/${e.sha256.slice(0, 2)}/${e.sha256}/${e.filename}`, `${e.sha256.slice(0, 2)}/${e.sha256}`);
        if (!primary.includes(mine)) throw new Error(`${e.filename}: the reader's primary element is not createrepo_c's`);
      }
      const rows: Array<[string, number[], number[]]> = [
        ['headers', [], []],
        ['entries', [], []],
      ];
      for (let r = 0; r < ROUNDS; r++) {
        rows[0]![1].push(
          await timed(() =>
            rpmQuery(
              RPM_QF,
              files.map((f) => f.path),
              600_000,
            ),
          ),
        );
        rows[0]![2].push(await timed(() => readPackageHeaders(files)));
        rows[1]![1].push(await timed(createrepo));
        rows[1]![2].push(await timed(() => makeIndexEntries(storageDir, 'yum', pkgs, opts)));
      }
      for (const [work, tools, reader] of rows) {
        const [a, b] = [median(tools), median(reader)];
        console.log(
          `${String(n).padStart(8)}  ${work.padEnd(8)}  ${`${a.toFixed(0)} ms`.padStart(10)}  ${`${b.toFixed(0)} ms`.padStart(11)}  ${(a / b).toFixed(1).padStart(13)}`,
        );
      }
    }
    console.log('(headers as rpm -qp prints them and primary elements as createrepo_c writes them: checked)');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
