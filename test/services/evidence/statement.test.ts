import { describe, expect, it } from 'vitest';
import { evidenceStatement, PREDICATE_TYPE, STATEMENT_TYPE, statementBytes } from '../../../services/evidence/statement.ts';

const facts = {
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

describe('evidenceStatement', () => {
  it('is an in-toto Statement v1: one subject per package by name and sha256, sorted, and how they got there', () => {
    const s = evidenceStatement(facts);
    expect(s._type).toBe(STATEMENT_TYPE);
    expect(s.predicateType).toBe(PREDICATE_TYPE);
    expect(s.subject).toEqual([
      { name: 'a-1.rpm', digest: { sha256: 'a'.repeat(64) } },
      { name: 'b-1.rpm', digest: { sha256: 'b'.repeat(64) } },
    ]);
    expect(s.predicate).toMatchObject({
      desk: 'central',
      release: { ticket: 7, ticketUrl: 'http://rt.example/Ticket/Display.html?id=7', revision: 3 },
      checks: { dependencies: { passed: true, unchecked: 1 } },
      repositories: facts.repositories,
    });
  });
  it('serialises the same facts to the same bytes', () => {
    expect(statementBytes(evidenceStatement(facts)).equals(statementBytes(evidenceStatement({ ...facts })))).toBe(true);
  });
});
