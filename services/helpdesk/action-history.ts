import type { FieldChange, TicketHistory } from './port.ts';
import type { RtTransaction } from './rt-types.ts';

const NOTE_TYPES = new Set(['Comment', 'Correspond']);

/**
 * The workflow's reading of a ticket's transactions (oldest first): its RepoAction changes, and for each
 * one what its author wrote with it. `currentValue` is the ticket's RepoAction now: a ticket created with a
 * value and never changed since records that value nowhere in its history.
 */
export function actionHistory(all: RtTransaction[], fieldId: number, currentValue: string | null): TicketHistory {
  const changes: FieldChange[] = all
    .filter((t) => t.type === 'CustomField' && t.field === fieldId)
    .map((t) => ({ ...t, field: 'RepoAction' }));
  // a ticket created with RepoAction set records no change for that first value; the first change's old value is it
  const initial = changes.length ? changes[0]!.oldValue : currentValue;
  const create = all.find((t) => t.type === 'Create');
  if (create && initial) changes.unshift({ ...create, field: 'RepoAction', oldValue: null, newValue: initial });
  return {
    changes,
    newest: Math.max(0, ...all.map((t) => t.id)),
    // RT's update page (Ticket/Display.html) records the comment first and the field change after it: the
    // note is by the same author, after the previous RepoAction change and before this one
    notesOf(txnId) {
      const change = changes.find((c) => c.id === txnId);
      if (!change) return [];
      const previous = Math.max(0, ...changes.filter((c) => c.id < txnId).map((c) => c.id));
      return all.filter((t) => NOTE_TYPES.has(t.type) && t.creator === change.creator && t.id > previous && t.id < txnId).map((t) => t.id);
    },
  };
}
