import type { StepContext } from './types.ts';
import { outputOf } from './types.ts';
import { fetchMetadata } from './fetch-metadata.ts';
import { fetchPackages } from './fetch-packages.ts';
import { publishUnverified } from './publish-unverified.ts';
import { planPromotion } from './dependencies.ts';
import { describeCheck } from '../../services/deps/check.ts';

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
    `Client file: ${pub.clientFileUrl}` + (m.repoKind === 'yum' ? '  (save it under /etc/yum.repos.d/)' : '  (save it under /etc/apt/sources.list.d/)'),
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
