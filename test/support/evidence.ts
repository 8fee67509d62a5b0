import type { EvidenceFacts } from '../../services/evidence/statement.ts';

/** What a release's evidence statement is made of: two RPMs, one transition, one repository, one key. */
export const EVIDENCE_FACTS: EvidenceFacts = {
  desk: 'central',
  ticket: 7,
  rtUrl: 'http://rt.example',
  product: 'TP.tool',
  productName: 'tool',
  version: '1.0',
  revision: 3,
  packages: [
    { filename: 'b-1.rpm', sha256: 'b'.repeat(64), size: 2 },
    { filename: 'a-1.rpm', sha256: 'a'.repeat(64), size: 1 },
  ],
  transitions: [
    {
      action: 'MoveToProduction',
      actor: 'rollout1',
      from: 'StageRollOut',
      to: 'Production',
      at: '2026-12-04T00:00:00.000Z',
      rtTransaction: 99,
    },
  ],
  dependencies: { satisfied: true, unmet: 0, unchecked: 1, baseRepos: [] },
  repositories: [{ url: 'http://desk/repos/production/TP.tool/', version: 4, index: 'repodata/repomd.xml', indexSha256: 'c'.repeat(64) }],
  signingKeys: ['F'.repeat(40)],
  at: '2026-12-04T00:00:00.000Z',
};
