import { describe, expect, it } from 'vitest';
import { quotedNote, readActionNote } from '../../../workers/steps/action-note.ts';
import { useStepEnv } from '../../support/step-context.ts';

const env = useStepEnv();

/** The context of an action asked for by transaction 50 of ticket 7, whose author also wrote comments 51 and 52. */
const ctxOf = (notes: Record<number, number[]> = { 50: [51, 52] }) =>
  env.ctx(1, { ticketId: 7, transactionId: 50, actor: 'tug1', history: { changes: [], notesOf: (txn) => notes[txn] ?? [], newest: 50 } });

describe('action-note', () => {
  it('reads the newest comment written with the RepoAction change', async () => {
    env.rt.note(7, 51, 'first thought');
    env.rt.note(7, 52, '  Fails on el9:\nmissing libfoo \n');
    env.rt.note(7, 60, 'a later comment, not part of the change');
    env.rt.note(8, 52, 'another ticket');
    expect(await readActionNote.run(ctxOf())).toEqual({ note: 'Fails on el9:\nmissing libfoo' });
  });

  it('null when the change came with no comment, or only empty ones', async () => {
    env.rt.note(7, 60, 'a later comment');
    expect(await readActionNote.run(ctxOf({}))).toEqual({ note: null });
    env.rt.note(7, 51, '   ');
    expect(await readActionNote.run(ctxOf())).toEqual({ note: null });
  });

  it('quotes the note for the ticket comment, or says how to give one', async () => {
    const ctx = ctxOf();
    ctx.outputs['action-note'] = { note: 'line one\nline two' };
    expect(quotedNote(ctx)).toEqual(['Reason given by tug1:', '> line one', '> line two']);
    ctx.outputs['action-note'] = { note: null };
    expect(quotedNote(ctx)).toEqual(['tug1 gave no reason (write it as a comment in the same update as the RepoAction change).']);
  });

  it('has nothing to undo: it writes nothing to the ticket or the database', async () => {
    env.rt.note(7, 51, 'why');
    await readActionNote.run(ctxOf());
    expect(readActionNote.undo).toBeUndefined();
    expect(env.rt.comments).toEqual([]);
    expect(await env.db('outbox').count('* as n')).toEqual([{ n: 0 }]);
  });
});
