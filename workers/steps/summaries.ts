import { allocateRevision } from './allocate-revision.ts';
import { findSuccessor } from './deprecate.ts';
import { quotedNote, readActionNote } from './action-note.ts';
import { loadRelease } from './load-release.ts';
import { mustWait, promoteInto, withdrawFromSource } from './promote.ts';
import { checkTarget, planPromotion } from './dependencies.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { publishUnverified } from './publish-unverified.ts';
import { writeEvidenceStep } from './evidence.ts';
import { basename } from 'node:path';
import type { PublishOutput } from './views.ts';
import { describeCheck } from '../../services/deps/check.ts';
import { catalog } from '../../services/errors.ts';
import { STAGE_TITLES, type Stage } from '../../services/storage/repo-ref.ts';
import { targetOf } from '../../services/workflow/transitions.ts';
import { outputOf, type StepContext } from '../engine/step.ts';

/** Both repositories: the product's (RepoURI) and the stage's distribution that holds every product. */
const where = (pub: PublishOutput) => [
  `Repository: ${pub.url}`,
  `Client file: ${pub.clientFileUrl}`,
  `Distribution (every product of this stage and platform): ${pub.dist.label}`,
  `Distribution client file: ${pub.dist.clientFileUrl}`,
];

/** Where a withdrawn release was taken out of (checkpoints from before distributions name no dist). */
const out = (w: { url: string | null; dist?: string }) => (w.dist ? `${w.url} and the distribution ${w.dist}` : `${w.url}`);

const took = (ms: number) => `Time taken: ${(ms / 1000).toFixed(1)} s.`;
const name = (ctx: StepContext) => {
  const r = outputOf(ctx, loadRelease);
  return `${r.productName} ${r.version}`;
};

/** The release waits as Incomplete: what is missing, and that it will move by itself. */
function waiting(ctx: StepContext, stage: Stage, ms: number) {
  const check = outputOf(ctx, checkTarget(stage));
  const w = outputOf(ctx, withdrawFromSource);
  return {
    waits: true,
    repoUri: '',
    comment: [
      `${name(ctx)} cannot enter ${STAGE_TITLES[stage]} yet: requirements are missing there. It is Incomplete${w.url ? ` and out of ${out(w)}` : ''}.`,
      '',
      `[RD_DEPENDENCIES_UNMET] ${describeCheck(check)}`,
      '',
      `What to do: ${catalog.RD_DEPENDENCIES_UNMET.next}`,
      '',
      took(ms),
    ].join('\n'),
  };
}

export const stageSummary = (ctx: StepContext, ms: number) => {
  const stage = targetOf('MoveToStageRollOut');
  if (mustWait(ctx, stage)) return waiting(ctx, stage, ms);
  const pub = outputOf(ctx, promoteInto(stage))!;
  return {
    repoUri: pub.url,
    comment: [
      `${name(ctx)} is in the Stage-Rollout repository (the same verified packages; nothing was downloaded again).`,
      '',
      ...where(pub),
      'It is no longer in Unverified.',
      '',
      took(ms),
      '',
      'Next: a rollout coordinator sets RepoAction to MoveToProduction, or the technology unit to Reject.',
    ].join('\n'),
  };
};

export const productionSummary = (ctx: StepContext, ms: number) => {
  const stage = targetOf('MoveToProduction');
  if (mustWait(ctx, stage)) return waiting(ctx, stage, ms);
  const pub = outputOf(ctx, promoteInto(stage))!;
  const { revision, restored } = outputOf(ctx, allocateRevision);
  const evidence = ctx.outputs[writeEvidenceStep.id] as { file: string; signature: string } | null | undefined; // undefined: a checkpoint from before receipts
  return {
    repoUri: pub.url,
    release: { revision: revision!, deprecated_at: null, tombstone: null },
    attachments: evidence
      ? [
          { name: `${ctx.ticketId}-${basename(evidence.file)}`, type: 'application/vnd.in-toto+json', file: evidence.file },
          { name: `${ctx.ticketId}-${basename(evidence.signature)}`, type: 'application/pgp-signature', file: evidence.signature },
        ]
      : undefined,
    comment: [
      `${name(ctx)} is in Production as revision v${revision}${restored ? ' (restored; same revision as before)' : ''}.`,
      '',
      ...where(pub),
      '',
      took(ms),
      '',
      'This revision is immutable; a change needs a new release ticket. Deprecate takes it out of the index.',
      ...(evidence
        ? [
            '',
            `Evidence receipt (in-toto, signed with the repository key): attached here, and at ${pub.url.replace(/\/repos\/.*$/, '')}/releases/${ctx.ticketId}/evidence`,
          ]
        : []),
    ].join('\n'),
  };
};

export const rejectSummary = (ctx: StepContext, ms: number) => {
  const w = outputOf(ctx, withdrawFromSource);
  return {
    repoUri: '',
    comment: [
      `${name(ctx)} was rejected${w.url ? ` and withdrawn from ${out(w)}` : ''}.`,
      '',
      ...quotedNote(ctx),
      '',
      took(ms),
      '',
      'The provider may submit a corrected release: attach a new release.xml and set RepoAction to MoveToUnverified.',
    ].join('\n'),
  };
};

export const deprecateSummary = (ctx: StepContext, ms: number) => {
  const r = outputOf(ctx, loadRelease);
  const w = outputOf(ctx, withdrawFromSource);
  const s = outputOf(ctx, findSuccessor);
  const tombstone = {
    revision: r.revision,
    fallback: s.fallback,
    supersededBy: s.newer,
    at: new Date().toISOString(),
    by: ctx.actor,
    reason: outputOf(ctx, readActionNote).note,
  };
  const falls = s.newer
    ? `Revision v${s.newer} stays the newest.`
    : s.fallback
      ? `Clients now get revision v${s.fallback}.`
      : 'No other revision of this product is in Production.';
  return {
    repoUri: '',
    release: { deprecated_at: new Date(), tombstone },
    comment: [
      `${name(ctx)} (revision v${r.revision}) is deprecated: out of the Production index ${w.url ? out(w) : ''}, kept archived.`,
      falls,
      '',
      ...quotedNote(ctx),
      '',
      took(ms),
      '',
      'A rollout coordinator can restore it with RepoAction=MoveToProduction.',
    ].join('\n'),
  };
};

const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;

/** The success comment after MoveToUnverified: what was published, its digests, and where. */
export function unverifiedSummary(ctx: StepContext, elapsedMs: number) {
  const { metadata: m } = outputOf(ctx, fetchMetadata);
  const { packages, extras, bytes } = outputOf(ctx, fetchPackages);
  const pub = outputOf(ctx, publishUnverified);
  const lines = [
    `${m.productName} ${m.version} (${m.targetPlatform}/${m.targetArch}) is in the Unverified repository.`,
    '',
    `Repository: ${pub.url}`,
    `Client file: ${pub.clientFileUrl}${m.repoKind === 'yum' ? '  (save it under /etc/yum.repos.d/)' : '  (save it under /etc/apt/sources.list.d/)'}`,
    `Distribution (every product of this stage and platform): ${pub.dist.label}`,
    `Distribution client file: ${pub.dist.clientFileUrl}`,
    '',
    `Packages (${packages.length}, ${mib(bytes)}):`,
    ...packages.map((p) => `  ${p.filename}  sha256 ${p.sha256}  ${p.size} bytes`),
  ];
  if (extras.length) lines.push('', `Files in the bundle that release.xml does not name (not published): ${extras.join(', ')}`);
  const plan = outputOf(ctx, planPromotion);
  lines.push('', 'Would it pass further right now?', ...plan.map((c) => `  ${describeCheck(c).replace(/\n/g, '\n  ')}`));
  lines.push('', `Time taken: ${(elapsedMs / 1000).toFixed(1)} s (repository index ${pub.durationMs} ms).`);
  lines.push('', `Next: a member of the technology unit reviews it and sets RepoAction to MoveToStageRollOut or Reject.`);
  return {
    repoUri: pub.url,
    comment: lines.join('\n'),
    release: {},
  };
}
