import { join } from 'node:path';
import { historyOf } from '../../services/db/transitions.ts';
import { removeEvidence, signedIndexDigest, writeEvidence } from '../../services/evidence/files.ts';
import { evidenceStatement } from '../../services/evidence/statement.ts';
import { distPaths } from '../../services/storage/dist-ref.ts';
import { repoPaths } from '../../services/storage/repo-layout.ts';
import { targetOf } from '../../services/workflow/transitions.ts';
import { outputOf, type Step } from '../engine/step.ts';
import { allocateRevision } from './allocate-revision.ts';
import { checkTarget } from './dependencies.ts';
import { loadRelease } from './load-release.ts';
import { mustWait, promoteInto } from './promote.ts';
import { releaseById } from '../../services/db/releases.ts';

const production = targetOf('MoveToProduction');

/**
 * The evidence receipt of a release entering Production (services/evidence): an in-toto Statement of its
 * packages and how they got there, signed with the repository keys, kept in STORAGE_DIR/evidence, attached to
 * the ticket with the summary comment and served at /releases/:ticket/evidence. Nothing while it waits.
 */
export const writeEvidenceStep: Step<{ file: string; signature: string; revision: number } | null> = {
  id: 'evidence',
  async run(ctx) {
    if (mustWait(ctx, production)) return null;
    const { db, config, signer } = ctx.deps;
    const r = outputOf(ctx, loadRelease);
    const revision = outputOf(ctx, allocateRevision).revision!;
    const pub = outputOf(ctx, promoteInto(production))!;
    const check = outputOf(ctx, checkTarget(production));
    const [row, history] = await ctx.timings.time(
      'db',
      async () => [await releaseById(db, ctx.releaseId), await historyOf(db, ctx.ticketId)] as const,
    );
    const dist = { stage: production, kind: r.kind, platform: row.platform!, arch: row.arch! };
    // a checkpoint from before publications recorded their signed index: read it from the version, while it is there
    const productDir = join(
      repoPaths(config.STORAGE_DIR, { stage: production, product: r.product, kind: r.kind }).versions,
      String(pub.version),
    );
    const distDir = join(distPaths(config.STORAGE_DIR, dist).versions, String(pub.dist.version));
    const repositories = [
      { url: pub.url, version: pub.version, ...(pub.index ?? (await signedIndexDigest(productDir, r.kind))) },
      { url: pub.dist.url, version: pub.dist.version, ...(pub.dist.index ?? (await signedIndexDigest(distDir, r.kind))) },
    ];
    const at = new Date().toISOString();
    const statement = evidenceStatement({
      desk: config.DESK_NAME,
      ticket: ctx.ticketId,
      rtUrl: config.RT_URL,
      product: r.product,
      productName: r.productName,
      version: r.version,
      revision,
      packages: r.packages.map((p) => ({ ...p, size: Number(p.size) })),
      transitions: [
        ...history
          .filter((t) => t.outcome === 'ok')
          .map((t) => ({
            action: t.action,
            actor: t.actor,
            from: t.from_status,
            to: t.to_status,
            at: (t.finished_at ?? t.started_at).toISOString(),
            rtTransaction: t.transaction_id === null ? null : Number(t.transaction_id),
          })),
        { action: 'MoveToProduction', actor: ctx.actor, from: ctx.fromStatus, to: 'Production', at, rtTransaction: ctx.transactionId },
      ],
      dependencies: {
        satisfied: check.satisfied,
        unmet: check.unmet.length,
        unchecked: check.unchecked.length,
        baseRepos: check.baseRepos,
      },
      repositories,
      signingKeys: [...signer.fingerprints],
      at,
    });
    const written = await writeEvidence(config.STORAGE_DIR, ctx.ticketId, revision, statement, signer);
    return { ...written, revision };
  },
  async undo(ctx, out) {
    if (out) await removeEvidence(ctx.deps.config.STORAGE_DIR, ctx.ticketId, out.revision);
  },
};
