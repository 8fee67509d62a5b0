import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RdError, isRdError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import { aptFlatRepo, yumRepodata } from './dist-index.ts';
import { addToPool, ensureSymlink, poolDir } from './dist-pool.ts';
import { entriesFor, type IndexEntry } from './index-entries.ts';
import { type Prepared, prepareVersion, writeIndexFiles } from './publish-version.ts';
import { liveVersion, repoPaths, swapLive } from './repo-layout.ts';
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
   * Index entries recorded earlier (services/db index_entries): a package with one is not read again, so a
   * promotion or a withdrawal runs no index tool and reads no package.
   */
  recorded?: IndexEntry[];
  /** Scratch of the index tool (default STORAGE_DIR/tmp): an action gives its own, which goes with it even after a kill -9. */
  tmpDir?: string;
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
  /** packages whose bytes the index tool had to read (0 = every entry was recorded) */
  packagesRead: number;
  /** the entries made for them, for the caller to record */
  made: IndexEntry[];
  durationMs: number;
}

const TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * Publishes exactly `packages` as the repository's new version, all or nothing (publish-version.ts): the
 * packages into the shared pool (dist-pool.ts), the index concatenated from their entries (recorded, or made
 * once by createrepo_c / apt-ftparchive), signed, then swapped in. The repository's `pool` link makes the
 * entries' `pool/...` paths resolve, as in a distribution: a product repository is another view of the same
 * pool. On any failure, signing included, the live version is untouched. An empty list publishes a valid
 * empty index (a withdrawn release).
 */
export async function publishRepository(repo: RepoRef, packages: RepoPackage[], opts: PublishOptions): Promise<PublishResult> {
  return (await prepareRepository(repo, packages, opts)).commit();
}

/**
 * publishRepository up to the swap: packages pooled, index built, signed and durable aside. The packages are
 * in the pool when it returns, so a distribution prepared beside it may name them.
 */
export async function prepareRepository(repo: RepoRef, packages: RepoPackage[], opts: PublishOptions): Promise<Prepared<PublishResult>> {
  const t0 = performance.now();
  const paths = repoPaths(opts.storageDir, repo);
  const list = uniquePackages(repo.kind, packages);
  try {
    const { entries, made } = await entriesFor(opts.storageDir, repo.kind, list, opts.recorded ?? [], {
      tmpDir: opts.tmpDir ?? join(opts.storageDir, 'tmp'),
      timeoutMs: opts.timeoutMs ?? TOOL_TIMEOUT_MS,
      env: opts.env,
    });
    await addToPool(opts.storageDir, list);
    const prepared = await prepareVersion(paths, async (dir, previous) => {
      await ensureSymlink(join(dir, 'pool'), poolDir(opts.storageDir));
      const stanzas = entries.map((e) => e.parts);
      await writeIndexFiles(
        dir,
        repo.kind === 'yum'
          ? await yumRepodata(stanzas, [], (previous?.version ?? 0) + 1)
          : await aptFlatRepo(
              repo,
              stanzas.map((p) => p[0]!),
            ),
      );
      await opts.signer.signRepository(dir, repo.kind);
      await writeFile(join(dir, clientFileName(repo)), clientFileText(opts.publicUrl, repo));
    });
    return {
      discard: prepared.discard,
      commit: async () => {
        const published = await prepared.commit().catch((e: unknown) => Promise.reject(asPublishError(e, repo, opts.storageDir)));
        return {
          url: repoUrl(opts.publicUrl, repo),
          dir: published.dir,
          version: published.version,
          previousVersion: published.previous?.version ?? null,
          clientFile: { name: clientFileName(repo), url: clientFileUrl(opts.publicUrl, repo) },
          packages: list.length,
          packagesRead: made.length,
          made,
          durationMs: Math.round(performance.now() - t0),
        };
      },
    };
  } catch (e) {
    throw asPublishError(e, repo, opts.storageDir);
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
