/** Step checkpoints (Bodhi's @checkpoint): each finished step's output, per inbox event. */
import type { Db } from './knex.ts';

/** The outputs of an event's steps that are done, by step id: a rerun after kill -9 skips them. */
export async function checkpointsOf(db: Db, inboxId: number): Promise<Map<string, unknown>> {
  const rows = await db('checkpoints').where({ inbox_id: inboxId }).select('step', 'output');
  return new Map(rows.map((r) => [r.step as string, r.output]));
}

/** Outputs must be JSON. */
export async function saveCheckpoint(db: Db, inboxId: number, step: string, output: unknown): Promise<void> {
  await db('checkpoints')
    .insert({ inbox_id: inboxId, step, output: JSON.stringify(output) })
    .onConflict(['inbox_id', 'step'])
    .merge();
}
