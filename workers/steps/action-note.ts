import { outputOf, type Step, type StepContext } from '../engine/step.ts';

/** What the person who asked for this action wrote with it in RT (the reason of a Reject or Deprecate). */
export const readActionNote: Step<{ note: string | null }> = {
  id: 'action-note',
  async run(ctx) {
    return { note: await ctx.deps.rt.noteText(ctx.ticketId, ctx.history.notesOf(ctx.transactionId)) };
  },
};

/** The note quoted for a comment, or what to do next time when there was none. */
export function quotedNote(ctx: StepContext): string[] {
  const { note } = outputOf(ctx, readActionNote);
  if (!note) return [`${ctx.actor} gave no reason (write it as a comment in the same update as the RepoAction change).`];
  return [`Reason given by ${ctx.actor}:`, ...note.split('\n').map((l) => `> ${l}`)];
}
