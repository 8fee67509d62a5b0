import { describe, expect, it } from 'vitest';
import { actionHistory } from '../../../services/helpdesk/action-history.ts';
import type { RtTransaction } from '../../../services/helpdesk/rt-types.ts';

const FIELD = 7;
let next = 100;
const txn = (type: string, creator: string, over: Partial<RtTransaction> = {}): RtTransaction => ({
  id: next++,
  ticketId: 1,
  type,
  field: null,
  oldValue: null,
  newValue: null,
  creator,
  created: '',
  ...over,
});
const change = (creator: string, oldValue: string | null, newValue: string, field = FIELD) =>
  txn('CustomField', creator, { field, oldValue, newValue });

describe('actionHistory', () => {
  it('lists the RepoAction changes only, oldest first', () => {
    const all = [
      txn('Create', 'provider1'),
      change('provider1', null, 'MoveToUnverified'),
      change('releasedesk', null, 'Processing', FIELD + 1),
      change('tug1', 'MoveToUnverified', 'Reject'),
    ];
    const h = actionHistory(all, FIELD, 'Reject');
    expect(h.changes.map((c) => [c.id, c.field, c.newValue, c.creator])).toEqual([
      [all[1]!.id, 'RepoAction', 'MoveToUnverified', 'provider1'],
      [all[3]!.id, 'RepoAction', 'Reject', 'tug1'],
    ]);
  });

  it("a ticket created with a value: the Create is the first change, its value the first change's old one, or the current one", () => {
    const create = txn('Create', 'provider1');
    expect(actionHistory([create], FIELD, 'MoveToUnverified').changes).toEqual([
      { ...create, field: 'RepoAction', oldValue: null, newValue: 'MoveToUnverified' },
    ]);
    const later = change('tug1', 'MoveToUnverified', 'Reject');
    expect(actionHistory([create, later], FIELD, 'Reject').changes.map((c) => [c.type, c.newValue])).toEqual([
      ['Create', 'MoveToUnverified'],
      ['CustomField', 'Reject'],
    ]);
    expect(actionHistory([create], FIELD, null).changes).toEqual([]);
  });

  it("the notes of a change: comments and replies of its author since the previous change, not others' and not later ones", () => {
    const all = [
      txn('Create', 'provider1'),
      txn('Comment', 'provider1'),
      change('provider1', null, 'MoveToUnverified'),
      txn('Comment', 'tug1'),
      txn('Correspond', 'tug1'),
      txn('Comment', 'releasedesk'),
      txn('Status', 'tug1'),
      change('tug1', 'MoveToUnverified', 'Reject'),
      txn('Comment', 'tug1'),
      change('tug1', 'Reject', 'MoveToStageRollOut'),
    ];
    const h = actionHistory(all, FIELD, 'MoveToStageRollOut');
    expect(h.notesOf(all[2]!.id)).toEqual([all[1]!.id]);
    expect(h.notesOf(all[7]!.id)).toEqual([all[3]!.id, all[4]!.id]);
    expect(h.notesOf(all[9]!.id)).toEqual([all[8]!.id]);
    expect(h.notesOf(all[5]!.id)).toEqual([]); // not a RepoAction change
    // how far the read reached, whatever the kind of its last transaction
    expect(actionHistory(all.slice(0, 7), FIELD, null).newest).toBe(all[6]!.id);
    expect(actionHistory([], FIELD, null).newest).toBe(0);
  });
});
