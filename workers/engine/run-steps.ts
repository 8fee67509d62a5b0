import { checkpointsOf, saveCheckpoint } from '../../services/db/checkpoints.ts';
import type { Helpdesk } from '../../services/helpdesk/port.ts';
import type { Step, StepContext } from './step.ts';

/**
 * Runs steps in order, checkpointing each output, so a rerun after kill -9 skips what is done
 * (Bodhi's @checkpoint). Outputs must be JSON.
 */
export async function runSteps(ctx: StepContext, steps: readonly Step[], early: EarlyReads = new Map()): Promise<void> {
  const done = await ctx.timings.time('db', () => checkpointsOf(ctx.deps.db, ctx.inboxId));
  for (const step of steps) {
    if (done.has(step.id)) {
      ctx.outputs[step.id] = done.get(step.id);
      ctx.log.debug({ step: step.id }, 'step already done');
      continue;
    }
    const t0 = Date.now();
    ctx.log.info({ step: step.id }, 'step start');
    const out = (await step.run(ctx, early.get(step.id))) ?? null;
    await ctx.timings.time('db', () => saveCheckpoint(ctx.deps.db, ctx.inboxId, step.id, out));
    ctx.outputs[step.id] = out;
    ctx.log.info({ step: step.id, ms: Date.now() - t0 }, 'step done');
  }
}

/** The early reads of a plan's steps (Step.early), started now; a read no step takes is dropped, its failure with it. */
export function startEarlyReads(steps: readonly Step[], rt: Helpdesk, ticketId: number): EarlyReads {
  const early = new Map<string, Promise<unknown>>();
  for (const step of steps) {
    if (!step.early) continue;
    const read = step.early(rt, ticketId);
    read.catch(() => undefined);
    early.set(step.id, read);
  }
  return early;
}

export type EarlyReads = ReadonlyMap<string, Promise<unknown>>;

/** Takes back every checkpointed step, newest first; an undo that fails is logged and the rest go on. */
export async function undoSteps(ctx: StepContext, steps: readonly Step[]): Promise<void> {
  const byId = await checkpointsOf(ctx.deps.db, ctx.inboxId);
  for (const step of [...steps].reverse()) {
    if (!byId.has(step.id) || !step.undo) continue;
    try {
      await step.undo(ctx, byId.get(step.id));
      ctx.log.info({ step: step.id }, 'step undone');
    } catch (e) {
      ctx.log.error({ step: step.id, err: e }, 'undo failed');
    }
  }
}
