import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { RdError } from '../errors.ts';
import { errCode, fsyncPath } from './blobs.ts';
import { assertRepoRef, type RepoRef } from './repo-ref.ts';

/**
 * On-disk layout of repositories:
 *   STORAGE_DIR/repos/<stage>/<product>            symlink -> ../.versions/<stage>/<product>/<n>
 *   STORAGE_DIR/repos/.versions/<stage>/<product>/<n>/           one complete, immutable version
 *   STORAGE_DIR/repos/.versions/<stage>/<product>/.build-<id>*   a version being built (+ its scratch)
 * A version is built aside and published by renaming a new symlink over the live one (rename(2) is
 * atomic), so clients see the old index or the new one, never a mix. Dot-names are not served.
 */
export interface RepoPaths {
  /** STORAGE_DIR/repos/<stage>/<product>: the symlink clients reach. */
  live: string;
  /** STORAGE_DIR/repos/.versions/<stage>/<product>: numbered versions and builds in progress. */
  versions: string;
}

export function repoPaths(storageDir: string, repo: RepoRef): RepoPaths {
  assertRepoRef(repo);
  const repos = join(storageDir, 'repos');
  return {
    live: inside(storageDir, repos, repo.stage, repo.product),
    versions: inside(storageDir, repos, '.versions', repo.stage, repo.product),
  };
}

/** Joins and resolves, then refuses anything that is not strictly below root. */
export function inside(root: string, ...parts: string[]): string {
  const base = resolve(root);
  const p = resolve(base, ...parts);
  if (!p.startsWith(base + sep)) throw new RdError('RD_XML_INVALID', `path ${JSON.stringify(parts.join('/'))} leaves ${base}`);
  return p;
}

/** The version the live symlink points at, or null when the repository was never published. */
export async function liveVersion(paths: RepoPaths): Promise<{ version: number; dir: string } | null> {
  let target: string;
  try {
    target = await readlink(paths.live);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
  const dir = resolve(dirname(paths.live), target);
  const version = Number(dir.slice(dir.lastIndexOf(sep) + 1));
  return Number.isInteger(version) && version > 0 ? { version, dir } : null;
}

/** A unique name for one build; the caller creates `<prefix>` as a dir and `<prefix>.*` as scratch. */
export async function asidePrefix(paths: RepoPaths): Promise<string> {
  await mkdir(paths.versions, { recursive: true });
  return join(paths.versions, `.build-${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Gives the finished aside dir the next version number. rename() onto an existing non-empty
 * directory fails, so two concurrent builds can never take the same number.
 */
export async function commitVersion(paths: RepoPaths, aside: string): Promise<{ version: number; dir: string }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const version = Math.max(0, ...(await versionNumbers(paths))) + 1;
    const dir = join(paths.versions, String(version));
    try {
      await rename(aside, dir);
      return { version, dir };
    } catch (e) {
      if (errCode(e) !== 'ENOTEMPTY' && errCode(e) !== 'EEXIST') throw e;
    }
  }
  throw new RdError('RD_PUBLISH_FAILED', `could not allocate a version number under ${paths.versions}`);
}

/** Points the live symlink at dir: a new symlink under a temp name, renamed over the old one. */
export async function swapLive(paths: RepoPaths, dir: string): Promise<void> {
  const parent = dirname(paths.live);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${randomBytes(6).toString('hex')}.swap`);
  // Relative target: STORAGE_DIR can be moved or mounted elsewhere (container) without breaking links.
  await symlink(relative(parent, dir), tmp);
  try {
    await rename(tmp, paths.live);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncPath(parent);
}

/**
 * Removes versions older than the one just replaced (kept for rollback and as createrepo_c's
 * --update-md-path), never the live one, and builds abandoned for over an hour (a killed job).
 * Best effort: a leftover is removed by the next publish.
 */
export async function pruneVersions(paths: RepoPaths, replaced: number | undefined): Promise<void> {
  if (replaced === undefined) return;
  const live = (await liveVersion(paths))?.version;
  for (const n of await versionNumbers(paths)) {
    if (n < replaced && n !== live) await rm(join(paths.versions, String(n)), { recursive: true, force: true }).catch(() => {});
  }
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(paths.versions).catch(() => [] as string[])) {
    if (!name.startsWith('.build-')) continue;
    const p = join(paths.versions, name);
    const st = await stat(p).catch(() => null);
    if (st && st.mtimeMs < hourAgo) await rm(p, { recursive: true, force: true }).catch(() => {});
  }
}

async function versionNumbers(paths: RepoPaths): Promise<number[]> {
  const names = await readdir(paths.versions).catch((e) => (errCode(e) === 'ENOENT' ? [] : Promise.reject(e)));
  return names.filter((n) => /^[1-9][0-9]*$/.test(n)).map(Number);
}

/**
 * Makes the generated index durable before it goes live: every file except the packages (hard
 * links to blobs fsynced on adoption) and every directory. A handful of fsyncs per publish.
 */
export async function syncIndex(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await syncIndex(p);
    else if (entry.isFile() && !/\.(rpm|deb)$/.test(entry.name)) await fsyncPath(p);
  }
  await fsyncPath(dir);
}
