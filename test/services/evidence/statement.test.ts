import { describe, expect, it } from 'vitest';
import { evidenceStatement, PREDICATE_TYPE, STATEMENT_TYPE, statementBytes } from '../../../services/evidence/statement.ts';
import { EVIDENCE_FACTS } from '../../support/evidence.ts';

const facts = EVIDENCE_FACTS;

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
