import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { errCode } from './blobs.ts';
import type { RepoRef } from './repo-ref.ts';
import { runTool, tail } from './run-tool.ts';

/**
 * Index generators for one repository directory, with the real tools dnf and apt were built
 * against. Both tools reuse earlier checksums (createrepo_c --update-md-path, apt-ftparchive --db)
 * so that republishing and promotion cost grows with the number of packages, not their bytes.
 */
export interface IndexOptions {
  /** Scratch files of this build are named `<scratch>.*` (outside the published dir). */
  scratch: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** What the tool printed on stderr while succeeding: why a package was skipped, if one was. */
export interface IndexResult {
  warnings: string;
}

/** Where a YUM repository keeps its packages, relative to the repository root. */
export const YUM_PACKAGES_DIR = 'Packages';

/**
 * createrepo_c over dir. `reuse` are earlier repository dirs (own previous version, promotion
 * source) whose checksums are taken when name, size and mtime match. Returns how many packages
 * createrepo_c actually had to read (0 = every checksum reused).
 */
export async function buildYumIndex(dir: string, reuse: string[], opts: IndexOptions): Promise<IndexResult & { packagesRead: number }> {
  const readList = `${opts.scratch}.read`;
  const args = ['--update', '--no-database', '--general-compress-type=gz', `--read-pkgs-list=${readList}`];
  for (const r of reuse) args.push(`--update-md-path=${r}`);
  const { stderr } = await runTool('createrepo_c', [...args, dir], { timeoutMs: opts.timeoutMs, env: opts.env });
  const read = await readFile(readList, 'utf8').catch((e) => (errCode(e) === 'ENOENT' ? '' : Promise.reject(e)));
  await rm(readList, { force: true });
  return { packagesRead: read.split('\n').filter(Boolean).length, warnings: tail(stderr) };
}

/**
 * A flat APT repository in dir (`deb URL ./`): Packages, Packages.gz and Release at the top.
 * apt-ftparchive's cache db is keyed by relative path and validated by mtime only; blob mtimes are
 * derived from their digest (blobs.ts), so one db per product is safe across stages and versions.
 * Each build works on a private copy of the db, renamed back at the end, so two concurrent builds
 * never write the same Berkeley DB file (the loser's new entries are merely not cached).
 */
export async function buildAptIndex(dir: string, repo: RepoRef, cacheDb: string, opts: IndexOptions): Promise<IndexResult> {
  const db = `${opts.scratch}.db`;
  await copyFile(cacheDb, db).catch((e) => (errCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
  const run = { cwd: dir, timeoutMs: opts.timeoutMs, env: opts.env };
  const { stderr } = await runTool('apt-ftparchive', ['--db', db, 'packages', '.'], { ...run, stdoutFile: join(dir, 'Packages') }).catch(
    async (e) => {
      await rm(cacheDb, { force: true }); // should the cache be what breaks it, the retry starts without it
      throw e;
    },
  );
  await mkdir(dirname(cacheDb), { recursive: true });
  await rename(db, cacheDb);
  await writeFile(join(dir, 'Packages.gz'), await promisify(gzip)(await readFile(join(dir, 'Packages')), { level: 9 }));
  // Release is generated after Packages* exist and written by us, so it never lists itself.
  const release = await runTool('apt-ftparchive', [...releaseFields(repo), 'release', '.'], run);
  await writeFile(join(dir, 'Release'), release.stdout);
  return { warnings: tail(stderr) };
}

function releaseFields(repo: RepoRef): string[] {
  const fields = {
    Origin: 'releasedesk',
    Label: repo.product,
    Suite: repo.stage,
    Codename: repo.stage,
    Description: `${repo.product} (${repo.stage})`,
  };
  return Object.entries(fields).flatMap(([k, v]) => ['-o', `APT::FTPArchive::Release::${k}=${v}`]);
}

/**
 * The package file names the generated index lists. Both tools skip a package they cannot read
 * and still exit 0, so the publisher compares this with what it linked.
 */
export async function indexedFilenames(dir: string, kind: RepoRef['kind']): Promise<string[]> {
  if (kind === 'apt') {
    const text = await readFile(join(dir, 'Packages'), 'utf8');
    return [...text.matchAll(/^Filename: \.\/(.+)$/gm)].map((m) => m[1] ?? '');
  }
  const repomd = await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)?.[1];
  if (!href) throw new Error('repomd.xml names no primary metadata');
  const primary = (await promisify(gunzip)(await readFile(join(dir, href)))).toString('utf8');
  const prefix = `${YUM_PACKAGES_DIR}/`;
  return [...primary.matchAll(/<location href="([^"]+)"/g)].map((m) => unescapeXml(m[1] ?? '').slice(prefix.length));
}

const unescapeXml = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? '');
