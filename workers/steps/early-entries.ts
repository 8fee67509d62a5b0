import { recordedKeys, saveEntries } from '../../services/db/index-entries.ts';
import { addToPool } from '../../services/storage/dist-pool.ts';
import { makeIndexEntries } from '../../services/storage/index-entries.ts';
import type { RepoKind } from '../../services/storage/repo-ref.ts';
import type { StepContext } from '../engine/step.ts';

const TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * Makes and records the index entries of a release's packages before its publication needs them, while
 * the headers are read (two tools on two cores instead of one after the other): the publication then finds
 * them recorded and runs no index tool while it holds the repository's lock. An entry describes bytes, not
 * a release, so one made for a release that fails later is still right. Best effort: a package the tool
 * cannot read is left to the publication, which refuses it as it always did (RD_PACKAGE_UNREADABLE).
 */
export async function recordEntriesEarly(
  ctx: StepContext,
  packages: Array<{ sha256: string; filename: string; format: 'rpm' | 'deb' }>,
): Promise<void> {
  try {
    const known = await ctx.timings.time('db', () => recordedKeys(ctx.deps.db, packages));
    const missing = packages.filter((p) => !known.has(`${p.sha256}/${p.filename}`));
    for (const kind of ['yum', 'apt'] as const satisfies RepoKind[]) {
      const some = missing.filter((p) => (p.format === 'rpm' ? 'yum' : 'apt') === kind);
      if (some.length === 0) continue;
      const made = await ctx.timings.time('index', () =>
        makeIndexEntries(ctx.deps.config.STORAGE_DIR, kind, some, { tmpDir: ctx.workDir, timeoutMs: TOOL_TIMEOUT_MS }),
      );
      await ctx.timings.time('db', () => saveEntries(ctx.deps.db, made));
    }
  } catch (e) {
    ctx.log.debug({ err: e }, 'index entries not made early; the publication makes them');
  }
}

/**
 * Links a release's packages into the pool while its headers are read, so that the publication, which holds
 * the repository's and the distribution's locks, finds them there (one failed link(2) each) instead of making
 * a directory, a link and their fsyncs per package. The pool is append-only and names content: a link made
 * for a release that fails later names the same bytes, and fetch-packages' undo deletes it with the blob.
 * Best effort: the publication links what is missing and fails as it always did.
 */
export async function poolEarly(ctx: StepContext, packages: Array<{ sha256: string; filename: string }>): Promise<void> {
  try {
    await ctx.timings.time('index', () => addToPool(ctx.deps.config.STORAGE_DIR, packages));
  } catch (e) {
    ctx.log.debug({ err: e }, 'packages not pooled early; the publication pools them');
  }
}
