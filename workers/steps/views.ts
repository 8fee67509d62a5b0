import { saveEntries } from '../../services/db/index-entries.ts';
import { lockKeys, withLocks } from '../../services/db/locks.ts';
import { releaseById } from '../../services/db/releases.ts';
import { addToStage, archesShown, removeFromStage, viewPackages, type ViewPackage } from '../../services/db/stage-members.ts';
import { aptArch, distUnit, type DistRef } from '../../services/storage/dist-ref.ts';
import { prepareDistribution } from '../../services/storage/dist-publish.ts';
import { entriesFor, type IndexEntry } from '../../services/storage/index-entries.ts';
import { objectStoreOf } from '../../services/storage/objects/open.ts';
import { distTree, productTree, publishedRow, replicate, type PublishedTree } from '../../services/storage/objects/published.ts';
import { recordPublished } from '../../services/db/published.ts';
import { prepareRepository } from '../../services/storage/publish.ts';
import type { Prepared } from '../../services/storage/publish-version.ts';
import { assertRepoRef, type RepoKind, type Stage } from '../../services/storage/repo-ref.ts';
import type { StepContext } from '../engine/step.ts';
import { extraMetadata } from './advisories.ts';
import { signedIndexDigest, type SignedIndex } from '../../services/evidence/files.ts';

export interface PublishOutput {
  url: string;
  clientFileUrl: string;
  version: number;
  durationMs: number;
  /** its signed index as published (read before the locks are let go: a later publication may prune it) */
  index?: SignedIndex;
  /** the distribution repository of the stage, platform and arch (every product) */
  dist: { url: string; label: string; clientFileUrl: string; version: number; durationMs: number; index?: SignedIndex };
}

export interface ViewChange {
  /** show this release too */
  include?: number;
  /** stop showing this release */
  exclude?: number;
}

const TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * Rebuilds what `stage` shows after `change`: under the product's lock and then the distribution's, both
 * repositories are built aside at once (two signatures on two cores), then both go live, and only then the
 * membership (stage_members) changes, inside both locks: a failed build changes nothing, and a release of
 * another product entering the same distribution waits for the lock and then builds from the membership
 * this one left. Idempotent.
 */
export async function publishView(
  ctx: StepContext,
  stage: Stage,
  product: string,
  kind: RepoKind,
  change: ViewChange,
): Promise<PublishOutput> {
  const { db, config, signer } = ctx.deps;
  // before the distribution's build starts beside the product's: a name that is no path touches nothing
  assertRepoRef({ stage, product, kind });
  const release = await ctx.timings.time('db', () => releaseById(db, (change.include ?? change.exclude)!));
  const dist: DistRef = { stage, kind, platform: release.platform!, arch: release.arch! };
  return withLocks(db, [lockKeys.repo(stage, product)], async () => {
    const rows = await ctx.timings.time('db', () => viewPackages(db, { stage, product }, change));
    return withLocks(db, [lockKeys.dist(distUnit(dist))], async () => {
      // index: the whole build (entries made for new packages, pool links, index, signature, fsyncs)
      const [preparedRepo, preparedDist] = await ctx.timings.time('index', () =>
        bothOrNeither(
          prepareRepository({ stage, product, kind }, rows, {
            storageDir: config.STORAGE_DIR,
            publicUrl: config.PUBLIC_URL,
            signer,
            recorded: recordedEntries(kind, rows),
            // the action's scratch: the sweep removes it once the action is over, even after a kill -9
            tmpDir: ctx.workDir,
          }),
          prepareDist(ctx, dist, change),
        ),
      );
      const [r, out] = await committed(ctx, preparedRepo, preparedDist);
      if (r.made.length) await ctx.timings.time('db', () => saveEntries(db, r.made));
      await toStore(ctx, productTree({ stage, product, kind }, r.dir));
      await toStore(ctx, distTree(dist, out.dir));
      await ctx.timings.time('db', async () => {
        if (change.include !== undefined) await addToStage(db, change.include, stage);
        if (change.exclude !== undefined) await removeFromStage(db, change.exclude, stage);
      });
      // read before the locks are let go: a later publication may prune these versions
      const [index, distIndex] = await Promise.all([signedIndexDigest(r.dir, kind), signedIndexDigest(out.dir, kind)]);
      await ctx.progress({
        step: 'publish',
        repo: r.url,
        packages: rows.length,
        distribution: out.url,
        distributionPackages: out.packages,
      });
      return {
        url: r.url,
        clientFileUrl: r.clientFile.url,
        version: r.version,
        durationMs: r.durationMs + out.durationMs,
        index,
        dist: {
          url: out.url,
          label: out.label,
          clientFileUrl: out.clientFile.url,
          version: out.version,
          durationMs: out.durationMs,
          index: distIndex,
        },
      };
    });
  });
}

/** The distribution's build after the change, aside (its entries, its advisories, for APT its other arches). */
async function prepareDist(ctx: StepContext, dist: DistRef, change: ViewChange) {
  const { db, config, signer } = ctx.deps;
  const { entries, fresh } = await distributionEntries(ctx, dist, change);
  const extras = await ctx.timings.time('db', () => extraMetadata(db, config, dist, change));
  const otherArches = dist.kind === 'apt' ? await otherArchesOf(ctx, dist) : undefined;
  return prepareDistribution(dist, entries, {
    storageDir: config.STORAGE_DIR,
    publicUrl: config.PUBLIC_URL,
    signer,
    fresh,
    extras,
    otherArches,
  });
}

/**
 * The product's version, then the distribution's, live: the distribution names the entering packages in the
 * pool, where the product's build put them. A distribution not made live is not left aside.
 */
async function committed<A, B>(ctx: StepContext, product: Prepared<A>, dist: Prepared<B>): Promise<[A, B]> {
  try {
    return await ctx.timings.time('index', async () => [await product.commit(), await dist.commit()]);
  } catch (e) {
    await dist.discard();
    throw e;
  }
}

/** Both builds, or neither: when one fails, what the other prepared is dropped, and the first failure (the product's) is thrown. */
async function bothOrNeither<A, B>(a: Promise<Prepared<A>>, b: Promise<Prepared<B>>): Promise<[Prepared<A>, Prepared<B>]> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === 'fulfilled' && y.status === 'fulfilled') return [x.value, y.value];
  await Promise.all([x, y].map((s) => (s.status === 'fulfilled' ? s.value.discard() : undefined)));
  throw x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason;
}

const recordedEntries = (kind: RepoKind, rows: ViewPackage[]): IndexEntry[] =>
  rows.flatMap((r) => (r.parts ? [{ sha256: r.sha256, filename: r.filename, kind, parts: r.parts }] : []));

/**
 * The distribution's entries after the change. The entering release's were recorded while its headers were
 * read (check-headers); packages recorded before entries existed get theirs now, once.
 */
async function distributionEntries(
  ctx: StepContext,
  dist: DistRef,
  change: ViewChange,
): Promise<{ entries: IndexEntry[]; fresh: IndexEntry[] }> {
  const { db, config } = ctx.deps;
  const rows = await ctx.timings.time('db', () => viewPackages(db, dist, change));
  const { entries, made } = await ctx.timings.time('index', () =>
    entriesFor(config.STORAGE_DIR, dist.kind, rows, recordedEntries(dist.kind, rows), {
      tmpDir: ctx.workDir,
      timeoutMs: TOOL_TIMEOUT_MS,
    }),
  );
  if (made.length) await ctx.timings.time('db', () => saveEntries(db, made));
  // the pool is append-only: what the members already showed is there, and the product's build beside this one
  // puts the entering release's packages in before either goes live; packages without entries may not be
  return { entries, fresh: entries.filter((_, i) => rows[i]!.parts === null) };
}

/**
 * The rest of an APT suite: each other arch of the platform in the stage, from the records (the change is to
 * this arch only). Arches dpkg names alike (x86_64, amd64) are one index.
 */
async function otherArchesOf(ctx: StepContext, dist: DistRef): Promise<Array<{ arch: string; entries: IndexEntry[] }>> {
  const arches = (await ctx.timings.time('db', () => archesShown(ctx.deps.db, dist))).filter((a) => aptArch(a) !== aptArch(dist.arch));
  const byDpkg = new Map<string, IndexEntry[]>();
  for (const arch of arches) {
    const { entries } = await distributionEntries(ctx, { ...dist, arch }, {});
    byDpkg.set(aptArch(arch), [...(byDpkg.get(aptArch(arch)) ?? []), ...entries]);
  }
  return [...byDpkg].map(([arch, entries]) => ({ arch, entries }));
}

/** With an object store, the repository goes there too, still under its lock (services/storage/objects/published.ts). */
async function toStore(ctx: StepContext, tree: PublishedTree): Promise<void> {
  const store = objectStoreOf(ctx.deps.config.STORAGE_DIR);
  if (!store) return;
  const { files, ...done } = await ctx.timings.time('store', () => replicate(store, ctx.deps.config.STORAGE_DIR, tree));
  await ctx.timings.time('db', () => recordPublished(ctx.deps.db, publishedRow(tree, files)));
  ctx.log.debug({ repo: tree.path, ...done }, 'repository put in the object store');
}
