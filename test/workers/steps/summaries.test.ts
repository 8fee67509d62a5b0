import { noSigner } from '../../support/signer.ts';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import type { DependencyCheck } from '../../../services/deps/check.ts';
import { createLogger } from '../../../services/log.ts';
import { createMetrics } from '../../../services/metrics.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import type { StepContext } from '../../../workers/engine/step.ts';
import type { LoadedRelease } from '../../../workers/steps/load-release.ts';
import { deprecateSummary, productionSummary, rejectSummary, stageSummary, unverifiedSummary } from '../../../workers/steps/summaries.ts';
import type { PublishOutput } from '../../../workers/steps/views.ts';
import { releaseXml } from '../../support/release-xml.ts';
import { Timings } from '../../../workers/engine/timings.ts';

// Pure: the comment texts from the steps' outputs; no database, no files.
const config = loadConfig({ RT_TOKEN: 'x'.repeat(20), WEBHOOK_SECRET: 'y'.repeat(20) });
const U = 'https://repo.example/repos';
const P = 'TESTTP.demo.el9.x86_64';

function ctx(outputs: Record<string, unknown>, actor = 'tug1'): StepContext {
  return {
    deps: { db: undefined as never, rt: undefined as never, config, metrics: createMetrics(), signer: noSigner },
    log: createLogger('silent'),
    ticketId: 7,
    inboxId: 1,
    transactionId: 50,
    actor,
    history: { changes: [], notesOf: () => [], newest: 0 },
    releaseId: 1,
    fromStatus: 'Unverified',
    workDir: '/nonexistent',
    outputs,
    timings: new Timings(),
    progress: async () => undefined,
  };
}
const pub = (stage: string, version = 3): PublishOutput => ({
  url: `${U}/${stage}/${P}/`,
  clientFileUrl: `${U}/${stage}/${P}/${P}.repo`,
  version,
  durationMs: 42,
  dist: {
    url: `${U}/dist/yum/el9/x86_64/${stage}/`,
    label: `${U}/dist/yum/el9/x86_64/${stage}/`,
    clientFileUrl: `${U}/dist/yum/el9/x86_64/${stage}/releasedesk-el9-x86_64-${stage}.repo`,
    version,
    durationMs: 20,
  },
});
const met = (target: 'stage-rollout' | 'production'): DependencyCheck => ({
  target,
  satisfied: true,
  unmet: [],
  unchecked: [],
  baseRepos: [],
});
const unmet = (target: 'stage-rollout' | 'production'): DependencyCheck => ({
  target,
  satisfied: false,
  unchecked: [],
  baseRepos: [],
  unmet: [{ package: 'demo-dep-1.0-1.x86_64.rpm', requirement: 'libdemo >= 2' }],
});
const loaded = (o: Partial<LoadedRelease> = {}): LoadedRelease => ({
  product: P,
  productName: 'Demo Tool',
  version: '1.2.3',
  kind: 'yum',
  revision: null,
  deprecatedAt: null,
  packages: [],
  ...o,
});

describe('unverifiedSummary', () => {
  const metadata = parseReleaseXml(
    releaseXml({
      product: P,
      version: ['1', '2', '3'],
      platform: 'el9',
      arch: 'x86_64',
      packages: [
        {
          filename: 'demo-1.2.3-1.x86_64.rpm',
          pkgname: 'demo',
          version: '1.2.3',
          release: '1',
          arch: 'x86_64',
          url: 'https://dl.example/demo.rpm',
        },
      ],
    }),
  );
  const outputs = (extras: string[] = []) => ({
    'fetch-metadata': { attachmentId: 1, filename: 'release.xml', xmlSha256: 'f'.repeat(64), metadata },
    'fetch-packages': {
      packages: [{ filename: 'demo-1.2.3-1.x86_64.rpm', sha256: 'a'.repeat(64), size: 3_145_728, url: 'https://dl.example/demo.rpm' }],
      extras,
      adopted: [],
      bytes: 3_145_728,
    },
    'publish-unverified': pub('unverified'),
    'plan-promotion': [met('stage-rollout'), unmet('production')],
  });

  it('says where it is published, what, with which digests, and whether it would pass further', () => {
    expect(unverifiedSummary(ctx(outputs()), 1234)).toEqual({
      repoUri: `${U}/unverified/${P}/`,
      release: {},
      comment: [
        `${P} 1.2.3 (el9/x86_64) is in the Unverified repository.`,
        '',
        `Repository: ${U}/unverified/${P}/`,
        `Client file: ${U}/unverified/${P}/${P}.repo  (save it under /etc/yum.repos.d/)`,
        `Distribution (every product of this stage and platform): ${U}/dist/yum/el9/x86_64/unverified/`,
        `Distribution client file: ${U}/dist/yum/el9/x86_64/unverified/releasedesk-el9-x86_64-unverified.repo`,
        '',
        'Packages (1, 3.0 MiB):',
        `  demo-1.2.3-1.x86_64.rpm  sha256 ${'a'.repeat(64)}  3145728 bytes`,
        '',
        'Would it pass further right now?',
        '  stage-rollout: every requirement is met',
        '  production: 1 requirement(s) missing:',
        '    demo-dep-1.0-1.x86_64.rpm needs libdemo >= 2',
        '',
        'Time taken: 1.2 s (repository index 42 ms).',
        '',
        'Next: a member of the technology unit reviews it and sets RepoAction to MoveToStageRollOut or Reject.',
      ].join('\n'),
    });
  });

  it('lists the files of the bundle that were not published', () => {
    expect(unverifiedSummary(ctx(outputs(['SHA256SUMS', 'docs/README'])), 0).comment).toContain(
      '\n\nFiles in the bundle that release.xml does not name (not published): SHA256SUMS, docs/README\n\n',
    );
  });
});

describe('stageSummary and productionSummary', () => {
  it('Stage-Rollout: where, and what comes next', () => {
    const s = stageSummary(
      ctx({
        'load-release': loaded(),
        'check-dependencies-stage-rollout': met('stage-rollout'),
        'promote-stage-rollout': pub('stage-rollout'),
        'withdraw-from-source': { stage: 'unverified', url: `${U}/unverified/${P}/` },
      }),
      2500,
    );
    expect(s).toEqual({
      repoUri: `${U}/stage-rollout/${P}/`,
      comment: [
        'Demo Tool 1.2.3 is in the Stage-Rollout repository (the same verified packages; nothing was downloaded again).',
        '',
        `Repository: ${U}/stage-rollout/${P}/`,
        `Client file: ${U}/stage-rollout/${P}/${P}.repo`,
        `Distribution (every product of this stage and platform): ${U}/dist/yum/el9/x86_64/stage-rollout/`,
        `Distribution client file: ${U}/dist/yum/el9/x86_64/stage-rollout/releasedesk-el9-x86_64-stage-rollout.repo`,
        'It is no longer in Unverified.',
        '',
        'Time taken: 2.5 s.',
        '',
        'Next: a rollout coordinator sets RepoAction to MoveToProduction, or the technology unit to Reject.',
      ].join('\n'),
    });
  });

  it('waiting: Incomplete, what is missing, out of the source, and that it moves by itself', () => {
    const s = stageSummary(
      ctx({
        'load-release': loaded(),
        'check-dependencies-stage-rollout': unmet('stage-rollout'),
        'promote-stage-rollout': null,
        'withdraw-from-source': { stage: 'unverified', url: `${U}/unverified/${P}/` },
      }),
      100,
    );
    expect(s).toEqual({
      waits: true,
      repoUri: '',
      comment: [
        `Demo Tool 1.2.3 cannot enter Stage-Rollout yet: requirements are missing there. It is Incomplete and out of ${U}/unverified/${P}/.`,
        '',
        '[RD_DEPENDENCIES_UNMET] stage-rollout: 1 requirement(s) missing:\n  demo-dep-1.0-1.x86_64.rpm needs libdemo >= 2',
        '',
        'What to do: The release waits as Incomplete and is published by itself when a release that provides what is missing lands; or the technology unit rejects it.',
        '',
        'Time taken: 0.1 s.',
      ].join('\n'),
    });
  });

  it('Production: the revision, restored or not, written back to the release', () => {
    const outputs = (restored: boolean) => ({
      'load-release': loaded(),
      'check-dependencies-production': met('production'),
      'allocate-revision': { revision: 5, restored },
      'promote-production': pub('production'),
      'withdraw-from-source': { stage: 'stage-rollout', url: `${U}/stage-rollout/${P}/` },
    });
    const s = productionSummary(ctx(outputs(false)), 1000);
    expect(s.repoUri).toBe(`${U}/production/${P}/`);
    expect(s).toMatchObject({ release: { revision: 5, deprecated_at: null, tombstone: null } });
    expect(s.comment.split('\n')[0]).toBe('Demo Tool 1.2.3 is in Production as revision v5.');
    expect(s.comment).toContain('This revision is immutable; a change needs a new release ticket. Deprecate takes it out of the index.');
    expect(productionSummary(ctx(outputs(true)), 1000).comment.split('\n')[0]).toBe(
      'Demo Tool 1.2.3 is in Production as revision v5 (restored; same revision as before).',
    );
  });

  it('Production waiting: Incomplete, no revision written', () => {
    const s = productionSummary(
      ctx({
        'load-release': loaded(),
        'check-dependencies-production': unmet('production'),
        'withdraw-from-source': { stage: null, url: null },
      }),
      0,
    );
    expect(s).toMatchObject({ waits: true, repoUri: '' });
    expect('release' in s).toBe(false);
    expect(s.comment.split('\n')[0]).toBe('Demo Tool 1.2.3 cannot enter Production yet: requirements are missing there. It is Incomplete.');
  });
});

describe('rejectSummary and deprecateSummary', () => {
  it('Reject: withdrawn from where it was, with the reason quoted', () => {
    const s = rejectSummary(
      ctx({
        'load-release': loaded(),
        'action-note': { note: 'broken on el9\nsee logs' },
        'withdraw-from-source': { stage: 'unverified', url: `${U}/unverified/${P}/` },
      }),
      300,
    );
    expect(s).toEqual({
      repoUri: '',
      comment: [
        `Demo Tool 1.2.3 was rejected and withdrawn from ${U}/unverified/${P}/.`,
        '',
        'Reason given by tug1:',
        '> broken on el9',
        '> see logs',
        '',
        'Time taken: 0.3 s.',
        '',
        'The provider may submit a corrected release: attach a new release.xml and set RepoAction to MoveToUnverified.',
      ].join('\n'),
    });
    // from Incomplete it was in no repository
    const none = rejectSummary(
      ctx({ 'load-release': loaded(), 'action-note': { note: null }, 'withdraw-from-source': { stage: null, url: null } }),
      0,
    );
    expect(none.comment.split('\n').slice(0, 3)).toEqual([
      'Demo Tool 1.2.3 was rejected.',
      '',
      'tug1 gave no reason (write it as a comment in the same update as the RepoAction change).',
    ]);
  });

  it('Deprecate: the tombstone (fallback, newer, who, why) and what clients get now', () => {
    const outputs = (s: { fallback: number | null; newer: number | null }) => ({
      'load-release': loaded({ revision: 4 }),
      'action-note': { note: 'CVE-2026-1' },
      'find-successor': s,
      'withdraw-from-source': { stage: 'production', url: `${U}/production/${P}/` },
    });
    const before = Date.now();
    const s = deprecateSummary(ctx(outputs({ fallback: 3, newer: null }), 'rollout1'), 700);
    expect(s.repoUri).toBe('');
    expect(s.release.deprecated_at.getTime()).toBeGreaterThanOrEqual(before);
    expect(s.release.tombstone).toEqual({
      revision: 4,
      fallback: 3,
      supersededBy: null,
      at: expect.any(String),
      by: 'rollout1',
      reason: 'CVE-2026-1',
    });
    expect(s.comment.split('\n')).toEqual([
      `Demo Tool 1.2.3 (revision v4) is deprecated: out of the Production index ${U}/production/${P}/, kept archived.`,
      'Clients now get revision v3.',
      '',
      'Reason given by rollout1:',
      '> CVE-2026-1',
      '',
      'Time taken: 0.7 s.',
      '',
      'A rollout coordinator can restore it with RepoAction=MoveToProduction.',
    ]);
    expect(deprecateSummary(ctx(outputs({ fallback: 3, newer: 6 })), 0).comment.split('\n')[1]).toBe('Revision v6 stays the newest.');
    expect(deprecateSummary(ctx(outputs({ fallback: null, newer: null })), 0).comment.split('\n')[1]).toBe(
      'No other revision of this product is in Production.',
    );
  });
});
