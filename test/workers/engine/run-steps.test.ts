/** The checkpointed runner of an action's steps, on the real PostgreSQL (checkpoints rows per inbox event). */
import { webhookEvent } from '../../support/inbox.ts';
import { noSigner } from '../../support/signer.ts';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { createLogger } from '../../../services/log.ts';
import { createMetrics } from '../../../services/metrics.ts';
import { runSteps, undoSteps } from '../../../workers/engine/run-steps.ts';
import { outputOf, type Step, type StepContext } from '../../../workers/engine/step.ts';
import { useTestDb } from '../../support/db.ts';
import { Timings } from '../../../workers/engine/timings.ts';

const t = useTestDb();
const config = loadConfig({ RT_TOKEN: 'test-token-0123456789abcdef', WEBHOOK_SECRET: 'test-webhook-secret-0123456789' });
const metrics = createMetrics();

async function ctx(transactionId = 1): Promise<StepContext> {
  const row = await webhookEvent(t.db, 1, transactionId);
  return fresh(row.id);
}

/** A new context for the same event: what a rerun after kill -9 starts with (no outputs in memory). */
const fresh = (inboxId: number): StepContext => ({
  deps: { db: t.db, rt: undefined as never, config, metrics, signer: noSigner },
  log: createLogger('silent'),
  ticketId: 1,
  inboxId,
  transactionId: 1,
  actor: 'provider1',
  history: { changes: [], notesOf: () => [], newest: 0 },
  releaseId: 1,
  fromStatus: 'New',
  workDir: '/nonexistent',
  outputs: {},
  timings: new Timings(),
  progress: async () => undefined,
});

/** Steps that count their runs and write what they do and undo to `trail`. */
function steps(trail: string[], over: Partial<Record<string, Partial<Step>>> = {}) {
  const runs: Record<string, number> = {};
  const make = (id: string, out: unknown, undo = true): Step => ({
    id,
    run: async () => {
      runs[id] = (runs[id] ?? 0) + 1;
      trail.push(`run ${id}`);
      return out;
    },
    ...(undo && {
      undo: async (_c: StepContext, o: unknown) => {
        trail.push(`undo ${id} ${JSON.stringify(o)}`);
      },
    }),
    ...over[id],
  });
  return { runs, make };
}

const checkpoints = (inboxId: number) =>
  t.db('checkpoints').where({ inbox_id: inboxId }).orderBy('done_at').orderBy('step').select('step', 'output');

describe('runSteps', () => {
  it('runs the steps in order and checkpoints each output (undefined as null); a later step reads the earlier ones', async () => {
    const c = await ctx();
    const trail: string[] = [];
    const { make } = steps(trail);
    const a = make('a', { files: ['x.rpm'], n: 2 });
    const b = make('b', undefined);
    const seen: unknown[] = [];
    const reader: Step = {
      id: 'c',
      run: async (cx) => {
        seen.push(outputOf(cx, a), outputOf(cx, b));
        return 'done';
      },
    };
    await runSteps(c, [a, b, reader]);
    expect(trail).toEqual(['run a', 'run b']);
    expect(seen).toEqual([{ files: ['x.rpm'], n: 2 }, null]);
    expect(c.outputs).toEqual({ a: { files: ['x.rpm'], n: 2 }, b: null, c: 'done' });
    const rows = await checkpoints(c.inboxId);
    expect(Object.fromEntries(rows.map((r) => [r.step, r.output]))).toEqual({ a: { files: ['x.rpm'], n: 2 }, b: null, c: 'done' });
  });

  it('a failing step stops the rest: its error propagates, and neither it nor the later ones are checkpointed', async () => {
    const c = await ctx();
    const trail: string[] = [];
    const boom = new Error('boom');
    const { make } = steps(trail, {
      c: {
        run: async () => {
          trail.push('run c');
          throw boom;
        },
      },
    });
    await expect(runSteps(c, [make('a', 1), make('b', 2), make('c', 3), make('d', 4)])).rejects.toBe(boom);
    expect(trail).toEqual(['run a', 'run b', 'run c']);
    expect((await checkpoints(c.inboxId)).map((r) => r.step).sort()).toEqual(['a', 'b']);
    expect(c.outputs).toEqual({ a: 1, b: 2 });
  });

  it("a rerun skips the checkpointed steps and restores their outputs; another event's checkpoints do not count", async () => {
    const c = await ctx();
    const other = await ctx(2);
    const trail: string[] = [];
    let failC = false;
    const { runs, make } = steps(trail, {
      c: {
        run: async (cx) => {
          trail.push(`run c sees ${JSON.stringify(cx.outputs)}`);
          if (failC) throw new Error('killed');
          return 'c-out';
        },
      },
    });
    const plan = [make('a', { a: 1 }), make('b', ['b']), make('c', null)];
    await runSteps(other, plan); // a, b, c done for another event
    trail.length = 0;
    failC = true;
    runs.a = 0;
    runs.b = 0;
    await expect(runSteps(c, plan)).rejects.toThrow('killed');
    expect(runs).toEqual({ a: 1, b: 1 });
    failC = false;
    const rerun = fresh(c.inboxId);
    await runSteps(rerun, plan);
    expect(runs).toEqual({ a: 1, b: 1 }); // not run again
    expect(trail.at(-1)).toBe('run c sees {"a":{"a":1},"b":["b"]}'); // restored from the checkpoints before c ran
    expect(rerun.outputs).toEqual({ a: { a: 1 }, b: ['b'], c: 'c-out' });
    // a third run has nothing left to do
    await runSteps(fresh(c.inboxId), plan);
    expect(runs).toEqual({ a: 1, b: 1 });
    expect(trail.filter((l) => l.startsWith('run c'))).toHaveLength(2);
  });
});

describe('undoSteps', () => {
  it('undoes the checkpointed steps newest first, with their checkpointed outputs; skips those without undo or not run', async () => {
    const c = await ctx();
    const trail: string[] = [];
    const { make } = steps(trail, {
      d: {
        run: async () => {
          throw new Error('d fails');
        },
      },
    });
    const plan = [make('a', { made: 'a' }), make('b', 'b', false), make('c', [3]), make('d', 'd'), make('e', 'e')];
    await expect(runSteps(c, plan)).rejects.toThrow('d fails');
    trail.length = 0;
    await undoSteps(fresh(c.inboxId), plan); // what undo needs comes from the checkpoints, not from memory
    expect(trail).toEqual(['undo c [3]', 'undo a {"made":"a"}']);
  });

  it('goes on after an undo that throws, and does not throw itself', async () => {
    const c = await ctx();
    const trail: string[] = [];
    const { make } = steps(trail, {
      b: {
        undo: async () => {
          trail.push('undo b throws');
          throw new Error('cannot undo b');
        },
      },
    });
    const plan = [make('a', 1), make('b', 2), make('c', 3)];
    await runSteps(c, plan);
    trail.length = 0;
    await expect(undoSteps(c, plan)).resolves.toBeUndefined();
    expect(trail).toEqual(['undo c 3', 'undo b throws', 'undo a 1']);
  });

  it('does nothing for an event with no checkpoints', async () => {
    const c = await ctx();
    const trail: string[] = [];
    const { make } = steps(trail);
    await undoSteps(c, [make('a', 1), make('b', 2)]);
    expect(trail).toEqual([]);
  });
});
