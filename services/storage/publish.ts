import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RdError, isRdError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import { BlobStore } from './blobs.ts';
import { buildAptIndex, buildYumIndex, indexedFilenames, YUM_PACKAGES_DIR, type IndexOptions } from './repo-index.ts';
import { asidePrefix, commitVersion, inside, liveVersion, pruneVersions, repoPaths, swapLive, syncIndex } from './repo-layout.ts';
import { assertPackageFilename, type RepoKind, type RepoPackage, type RepoRef } from './repo-ref.ts';
import { clientFileName, clientFileText, clientFileUrl, repoUrl } from './repo-url.ts';
import { ToolError } from './run-tool.ts';

export interface PublishOptions {
  storageDir: string;
  /** PUBLIC_URL: written into the client file. */
  publicUrl: string;
  /** Signs the index in the build dir, before it goes live: there is no unsigned publication. */
  signer: Pick<Signer, 'signRepository'>;
  /**
   * Repositories that may already hold these packages (the promotion source). YUM: their live
   * index is passed to createrepo_c as --update-md-path, so no package is re-read. APT needs
   * nothing: its apt-ftparchive cache is per product, shared by all stages.
   */
  reuseFrom?: RepoRef[];
  /** Per tool run. */
  timeoutMs?: number;
  /** Environment of the index tools (PATH, TMPDIR). */
  env?: NodeJS.ProcessEnv;
}

export interface PublishResult {
  url: string;
  dir: string;
  version: number;
  previousVersion: number | null;
  clientFile: { name: string; url: string };
  packages: number;
  /** YUM: packages whose bytes createrepo_c had to read (0 = all checksums reused); APT: null. */
  packagesRead: number | null;
  durationMs: number;
}

const TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * Publishes exactly `packages` as the repository's new version, all or nothing (Pulp's
 * new_version): hard links from the blob store into a dir built aside, index generated, checked
 * and signed, then an atomic symlink swap, so a client sees the old signed index or the new one, never
 * an unsigned one. On any failure (signing included) the aside dir is removed and the live version is
 * untouched. An empty list publishes a valid empty index (a withdrawn release).
 * Callers serialise publishes of one repository; a concurrent call still cannot corrupt it.
 */
export async function publishRepository(repo: RepoRef, packages: RepoPackage[], opts: PublishOptions): Promise<PublishResult> {
  const t0 = performance.now();
  const paths = repoPaths(opts.storageDir, repo);
  const entries = uniquePackages(repo.kind, packages);
  const previous = await liveVersion(paths);
  const prefix = await asidePrefix(paths);
  let doomed: string | undefined = prefix; // what to delete if we fail: never the live version
  try {
    await mkdir(prefix);
    await linkPackages(new BlobStore(opts.storageDir), prefix, repo.kind, entries);
    const toolOpts: IndexOptions = { scratch: prefix, timeoutMs: opts.timeoutMs ?? TOOL_TIMEOUT_MS, env: opts.env };
    const packagesRead = await buildIndex(
      repo,
      prefix,
      entries.map((p) => p.filename),
      previous?.dir,
      opts,
      toolOpts,
    );
    await opts.signer.signRepository(prefix, repo.kind);
    await writeFile(join(prefix, clientFileName(repo)), clientFileText(opts.publicUrl, repo));
    await syncIndex(prefix);
    const committed = await commitVersion(paths, prefix);
    doomed = committed.dir;
    await swapLive(paths, committed.dir);
    doomed = undefined;
    await stat(committed.dir); // a racing publish's prune must not have left us pointing at nothing
    await pruneVersions(paths, previous?.version);
    return {
      url: repoUrl(opts.publicUrl, repo),
      dir: committed.dir,
      version: committed.version,
      previousVersion: previous?.version ?? null,
      clientFile: { name: clientFileName(repo), url: clientFileUrl(opts.publicUrl, repo) },
      packages: entries.length,
      packagesRead,
      durationMs: Math.round(performance.now() - t0),
    };
  } catch (e) {
    // swapLive can fail after its rename (fsync): never delete what the live link points at
    if (doomed && (await liveVersion(paths).catch(() => null))?.dir !== doomed) await rm(doomed, { recursive: true, force: true });
    throw asPublishError(e, repo, opts.storageDir);
  } finally {
    await Promise.all(['.db', '.read'].map((s) => rm(prefix + s, { force: true })));
  }
}

/** The live version of a repository, or null if it was never published. */
export async function currentVersion(storageDir: string, repo: RepoRef): Promise<{ version: number; dir: string } | null> {
  return liveVersion(repoPaths(storageDir, repo));
}

/** Points the repository back at the newest version older than the live one (the undo of a publish). */
export async function rollbackRepository(storageDir: string, repo: RepoRef): Promise<{ version: number; dir: string }> {
  const paths = repoPaths(storageDir, repo);
  const live = await liveVersion(paths);
  const older = (await readdir(paths.versions).catch(() => [] as string[]))
    .filter((n) => /^[1-9][0-9]*$/.test(n))
    .map(Number)
    .filter((n) => live !== null && n < live.version);
  if (older.length === 0) throw new RdError('RD_INTERNAL', `${repo.stage}/${repo.product}: no earlier version to roll back to`);
  const version = Math.max(...older);
  const dir = join(paths.versions, String(version));
  await swapLive(paths, dir);
  return { version, dir };
}

/** Validates names before anything touches the disk; the same blob listed twice is one entry. */
function uniquePackages(kind: RepoKind, packages: RepoPackage[]): RepoPackage[] {
  const byName = new Map<string, RepoPackage>();
  for (const p of packages) {
    assertPackageFilename(kind, p.filename);
    const seen = byName.get(p.filename);
    if (seen && seen.sha256 !== p.sha256) {
      throw new RdError('RD_XML_INVALID', `two different packages are named ${p.filename}`, { filename: p.filename });
    }
    byName.set(p.filename, p);
  }
  return [...byName.values()];
}

async function linkPackages(blobs: BlobStore, dir: string, kind: RepoKind, entries: RepoPackage[]): Promise<void> {
  const sub = kind === 'yum' ? YUM_PACKAGES_DIR : '.';
  await mkdir(join(dir, sub), { recursive: true });
  for (let i = 0; i < entries.length; i += 64) {
    const batch = entries.slice(i, i + 64);
    await Promise.all(batch.map((p) => blobs.linkInto(p.sha256, inside(dir, sub, p.filename))));
  }
}

/** Runs the index tool, then checks the index lists every package: returns YUM's packagesRead. */
async function buildIndex(
  repo: RepoRef,
  dir: string,
  expected: string[],
  previousDir: string | undefined,
  opts: PublishOptions,
  toolOpts: IndexOptions,
): Promise<number | null> {
  let result: { warnings: string; packagesRead?: number };
  if (repo.kind === 'yum') {
    result = await buildYumIndex(dir, await reuseDirs(opts, previousDir), toolOpts);
  } else {
    result = await buildAptIndex(dir, repo, inside(opts.storageDir, 'cache', 'apt-ftparchive', `${repo.product}.db`), toolOpts);
  }
  const listed = new Set(await indexedFilenames(dir, repo.kind));
  const skipped = expected.filter((f) => !listed.has(f));
  if (skipped.length > 0) {
    const tool = repo.kind === 'yum' ? 'createrepo_c' : 'apt-ftparchive';
    const why = result.warnings.split(`${dir}/`).join(''); // paths relative to the repository
    throw new RdError('RD_PACKAGE_UNREADABLE', `${skipped.join(', ')}: ${tool} could not read the package${why ? ` (${why})` : ''}`, {
      filenames: skipped,
    });
  }
  return result.packagesRead ?? null;
}

/** The own live version plus the live versions of the promotion sources, when they exist. */
async function reuseDirs(opts: PublishOptions, previousDir: string | undefined): Promise<string[]> {
  const dirs = previousDir ? [previousDir] : [];
  for (const r of opts.reuseFrom ?? []) {
    if (r.kind !== 'yum') continue;
    const live = await liveVersion(repoPaths(opts.storageDir, r));
    if (live && !dirs.includes(live.dir)) dirs.push(live.dir);
  }
  return dirs;
}

/** Tool output names absolute paths; messages reach tickets, so STORAGE_DIR is not spelled out. */
function asPublishError(e: unknown, repo: RepoRef, storageDir: string): unknown {
  const redact = (text: string) => text.split(storageDir).join('$STORAGE_DIR');
  if (isRdError(e)) {
    e.message = redact(e.message);
    return e;
  }
  const where = `${repo.stage}/${repo.product}`;
  if (e instanceof ToolError) {
    return new RdError('RD_PUBLISH_FAILED', redact(`${where}: ${e.message}`), {
      tool: e.tool,
      exitCode: e.exitCode,
      stderrTail: redact(e.stderrTail),
    });
  }
  return new RdError('RD_PUBLISH_FAILED', redact(`${where}: ${e instanceof Error ? e.message : String(e)}`));
}
