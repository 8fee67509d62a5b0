import { join } from 'node:path';
import type { Config } from '../../config/index.ts';
import { redact } from '../artifacts/url-policy.ts';
import type { Db } from '../db/knex.ts';
import { headersOf } from '../db/packages.ts';
import { releaseById } from '../db/releases.ts';
import { headersShownIn } from '../db/stage-members.ts';
import type { Logger } from '../log.ts';
import type { PackageHeader } from '../storage/package-header.ts';
import type { Stage } from '../storage/repo-ref.ts';
import { baseProvides, type BaseRepoCache, type CacheOptions } from './base-cache.ts';
import { baseReposFor } from './base-repos.ts';
import { requiredNames, resolve, type Kind, type Resolution } from './resolve.ts';

export interface DependencyCheck extends Resolution {
  target: Stage;
  satisfied: boolean;
  /** The base repositories (BASE_REPOS) consulted for this release's kind and platform. */
  baseRepos: string[];
}

/** What a check needs of the configuration: the base (BASE_PROVIDES, BASE_REPOS) and how to fetch it. */
export type DepsConfig = Pick<
  Config,
  | 'BASE_PROVIDES'
  | 'BASE_REPOS'
  | 'BASE_REPOS_REFRESH_MS'
  | 'MAX_DOWNLOAD_BYTES'
  | 'DOWNLOAD_TIMEOUT_MS'
  | 'ALLOWED_DOWNLOAD_HOSTS'
  | 'STORAGE_DIR'
>;

export interface CheckOptions {
  log?: Logger;
  /** Default: the process's cache. */
  cache?: BaseRepoCache;
}

/**
 * Would this release's requirements be met in `target` right now? Against what a site that enabled the
 * target's distribution finds there (every product of the release's kind, platform and arch), the release itself, and the configured base: BASE_PROVIDES and the base repositories
 * of the release's kind and platform. Reads rows, and base repositories from the process's cache (a
 * fetch once per refresh interval): cheap enough for every promotion, every plan and every re-evaluation.
 * Throws RD_BASE_REPO_UNAVAILABLE (transient) when a base repository was never read.
 */
export async function checkDependencies(
  db: Db,
  releaseId: number,
  target: Stage,
  config: DepsConfig,
  opts: CheckOptions = {},
): Promise<DependencyCheck> {
  const rel = await releaseById(db, releaseId);
  const own = await headersOf<PackageHeader>(db, releaseId);
  const of = { kind: rel.repo_kind!, platform: rel.platform!, arch: rel.arch! };
  return checkRequirements(db, { ...of, exceptReleaseId: releaseId }, target, own, config, opts);
}

/** What a release would bring, as another desk sends it (POST /peer/validate): its packages' requirements and provides. */
export interface Candidate {
  kind: 'yum' | 'apt';
  platform: string;
  arch: string;
  /** the release itself when it is recorded here (it does not count as already there) */
  exceptReleaseId?: number;
}

/** The same check for packages that need not be recorded here: the heart of checkDependencies, and of a remote validate. */
export async function checkRequirements(
  db: Db,
  c: Candidate,
  target: Stage,
  own: ReadonlyArray<{ filename: string; header: Pick<PackageHeader, 'requires' | 'provides'> | null }>,
  config: DepsConfig,
  opts: CheckOptions = {},
): Promise<DependencyCheck> {
  const there = await headersShownIn<PackageHeader>(db, c, target, c.exceptReleaseId ?? 0);
  const kind: Kind = c.kind === 'apt' ? 'deb' : 'rpm';
  const needs = own.map((p) => ({ package: p.filename, requires: p.header?.requires ?? [] }));
  const repos = baseReposFor(config.BASE_REPOS, c.kind, c.platform);
  // no BASE_REPOS for this release: no cache, no network
  const fromRepos = repos.length ? await baseProvides(repos, requiredNames(needs, kind), cacheOptions(config, opts.log), opts.cache) : [];
  const provides = [
    ...config.BASE_PROVIDES,
    ...fromRepos,
    ...there.flatMap((p) => p.header?.provides ?? []),
    ...own.flatMap((p) => p.header?.provides ?? []),
  ];
  const r = resolve(needs, provides, kind);
  return { ...r, target, satisfied: r.unmet.length === 0, baseRepos: repos.map((b) => redact(b.url)) };
}

/** Base repositories are fetched with the operator's download limits, into the service's scratch space. */
const cacheOptions = (c: DepsConfig, log?: Logger): CacheOptions => ({
  refreshMs: c.BASE_REPOS_REFRESH_MS,
  tmpDir: join(c.STORAGE_DIR, 'tmp'),
  maxBytes: c.MAX_DOWNLOAD_BYTES,
  timeoutMs: c.DOWNLOAD_TIMEOUT_MS,
  allowedHosts: c.ALLOWED_DOWNLOAD_HOSTS,
  ...(log && { log }),
});

export function describeCheck(c: DependencyCheck): string {
  if (c.satisfied) return `${c.target}: every requirement is met`;
  const base = c.baseRepos?.length ? `\n  (base repositories consulted: ${c.baseRepos.join(', ')})` : '';
  return `${c.target}: ${c.unmet.length} requirement(s) missing:\n${c.unmet.map((u) => `  ${u.package} needs ${u.requirement}`).join('\n')}${base}`;
}
