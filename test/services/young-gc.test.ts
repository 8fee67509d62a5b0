/** The young collections a byte stream asks for: how often, and that they are V8's own minor GCs. */
import { constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { buffer } from 'node:stream/consumers';
import { YOUNG_GC_EVERY, youngGcAsRead, youngGcEvery } from '../../services/young-gc.ts';
import { forcedMinor, gcsDuring } from '../support/gc.ts';

describe('youngGcEvery', () => {
  it('collects once per `every` bytes, counting across chunks', () => {
    let calls = 0;
    const add = youngGcEvery(100, () => calls++);
    for (let i = 0; i < 9; i++) add(10);
    expect(calls).toBe(0);
    add(10);
    expect(calls).toBe(1);
    add(250);
    expect(calls).toBe(2);
    add(99);
    expect(calls).toBe(2);
  });

  it('runs a forced young-generation GC of this process, without a global gc()', async () => {
    const gcs = await gcsDuring(() => {
      const add = youngGcEvery(YOUNG_GC_EVERY);
      add(YOUNG_GC_EVERY);
      add(YOUNG_GC_EVERY);
    });
    const forced = gcs.filter(([, f]) => f);
    expect(forced).toEqual([
      [constants.NODE_PERFORMANCE_GC_MINOR, true],
      [constants.NODE_PERFORMANCE_GC_MINOR, true],
    ]);
    expect(typeof (globalThis as { gc?: unknown }).gc === 'function').toBe(process.execArgv.includes('--expose-gc'));
  });

  it('gives a stream read through unchanged, with a young collection after each MiB of it', async () => {
    const chunks = Array.from({ length: 48 }, (_, i) => Buffer.alloc(64 * 1024, i)); // 3 MiB
    let got = Buffer.alloc(0);
    const gcs = await gcsDuring(async () => {
      got = await buffer(
        youngGcAsRead(
          (async function* () {
            yield* chunks;
          })(),
        ),
      );
    });
    expect(got.equals(Buffer.concat(chunks))).toBe(true);
    expect(forcedMinor(gcs)).toBe(3);
  });
});
