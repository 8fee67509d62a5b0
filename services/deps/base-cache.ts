import { redact } from '../artifacts/url-policy.ts';
import { RdError } from '../errors.ts';
import { loadBaseRepo, type BaseRepo, type BaseRepoContent, type FetchLimits } from './base-repos.ts';

/** After a failed refresh the last good copy serves this long (never longer than the refresh interval) before the next try. */
export const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export interface CacheOptions extends FetchLimits {
  refreshMs: number;
}

type Entry = { content?: BaseRepoContent; fetchedAt?: number; nextAt: number; pending?: Promise<BaseRepoContent> };

/**
 * Base repositories' content per URL, kept in this process for the refresh interval. Concurrent checks
 * of one URL share one fetch. A refresh that fails keeps the last good copy (and warns); with no copy
 * at all nothing can be judged: RD_BASE_REPO_UNAVAILABLE, transient, so the job retries instead of
 * calling the release Incomplete for want of the OS.
 */
export class BaseRepoCache {
  private readonly entries = new Map<string, Entry>();

  private readonly load: typeof loadBaseRepo;
  private readonly now: () => number;

  constructor(load: typeof loadBaseRepo = loadBaseRepo, now: () => number = Date.now) {
    this.load = load;
    this.now = now;
  }

  get(repo: BaseRepo, o: CacheOptions): Promise<BaseRepoContent> {
    const key = `${repo.kind} ${repo.url}`;
    const e = this.entries.get(key) ?? { nextAt: 0 };
    this.entries.set(key, e);
    if (e.content && this.now() < e.nextAt) return Promise.resolve(e.content);
    e.pending ??= this.refresh(e, repo, o).finally(() => {
      e.pending = undefined;
    });
    return e.pending;
  }

  private async refresh(e: Entry, repo: BaseRepo, o: CacheOptions): Promise<BaseRepoContent> {
    const url = redact(repo.url);
    try {
      const content = await this.load(repo, o);
      Object.assign(e, { content, fetchedAt: this.now(), nextAt: this.now() + o.refreshMs });
      o.log?.info({ url, packages: content.packages, names: content.provides.size }, 'base repository read');
      return content;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (!e.content) throw new RdError('RD_BASE_REPO_UNAVAILABLE', `base repository ${url}: ${why}`, { url, kind: repo.kind });
      e.nextAt = this.now() + Math.min(o.refreshMs, RETRY_AFTER_FAILURE_MS);
      o.log?.warn(
        { url, err: why, copyOf: new Date(e.fetchedAt!).toISOString() },
        'base repository refresh failed; using the last good copy',
      );
      return e.content;
    }
  }
}

/** The cache of this process: every check in it shares the base repositories it has read. */
export const baseRepoCache = new BaseRepoCache();

/**
 * What these base repositories provide under the capability names asked about; only those, so that
 * resolve() gets a handful of strings rather than a whole distribution.
 */
export async function baseProvides(
  repos: readonly BaseRepo[],
  names: ReadonlySet<string>,
  o: CacheOptions,
  cache: BaseRepoCache = baseRepoCache,
): Promise<string[]> {
  const contents = await Promise.all(repos.map((r) => cache.get(r, o)));
  return contents.flatMap((c) => [...names].flatMap((n) => c.provides.get(n) ?? []));
}
