import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IndexFile } from './dist-index.ts';
import { asidePrefix, commitVersion, liveVersion, pruneVersions, swapLive, syncIndex, type RepoPaths } from './repo-layout.ts';

export interface Version {
  version: number;
  dir: string;
}

/**
 * The one way any repository changes, product or distribution (Pulp's new_version): `build` fills a dir
 * aside (index, signatures, client file), which is made durable, numbered and swapped in by one rename, so
 * a client sees the old signed index or the new one, never a mix and never an unsigned one. On any failure
 * the aside dir is removed and the live version is untouched. Callers serialise the publications of one
 * repository; a concurrent one still cannot corrupt it.
 */
export async function publishVersion(
  paths: RepoPaths,
  build: (dir: string, previous: Version | null) => Promise<void>,
): Promise<Version & { previous: Version | null }> {
  return (await prepareVersion(paths, build)).commit();
}

/** A publication built aside: `commit` makes it live, `discard` drops it. */
export interface Prepared<R> {
  commit(): Promise<R>;
  discard(): Promise<void>;
}

/**
 * publishVersion in two halves, so that two repositories that change together (a product's and its
 * distribution's) are built at once and either both go live or neither: the caller prepares both, then
 * commits each, or discards what was prepared when the other failed. The caller holds the repository's
 * lock from prepare to commit (`previous` is read at prepare).
 */
export async function prepareVersion(
  paths: RepoPaths,
  build: (dir: string, previous: Version | null) => Promise<void>,
): Promise<Prepared<Version & { previous: Version | null }>> {
  const previous = await liveVersion(paths);
  const prefix = await asidePrefix(paths);
  const discard = () => rm(prefix, { recursive: true, force: true });
  try {
    await mkdir(prefix);
    await build(prefix, previous);
    await syncIndex(prefix);
  } catch (e) {
    await discard();
    throw e;
  }
  return { commit: () => commit(paths, prefix, previous), discard };
}

async function commit(paths: RepoPaths, prefix: string, previous: Version | null): Promise<Version & { previous: Version | null }> {
  let doomed: string | undefined = prefix; // what to delete if we fail: never the live version
  try {
    const committed = await commitVersion(paths, prefix);
    doomed = committed.dir;
    await swapLive(paths, committed.dir);
    doomed = undefined;
    await stat(committed.dir); // a racing publication's prune must not have left us pointing at nothing
    await pruneVersions(paths, previous?.version);
    return { ...committed, previous };
  } catch (e) {
    // swapLive can fail after its rename (fsync): never delete what the live link points at
    if (doomed && (await liveVersion(paths).catch(() => null))?.dir !== doomed) await rm(doomed, { recursive: true, force: true });
    throw e;
  }
}

export async function writeIndexFiles(dir: string, files: IndexFile[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.bytes);
  }
}
