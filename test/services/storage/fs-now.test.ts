import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inTurns, statNow } from '../../../services/storage/fs-now.ts';

describe('inTurns', () => {
  it('calls f on each item in order and gives the answers in order', async () => {
    const seen: number[] = [];
    const out = await inTurns([3, 1, 2], async (x) => {
      seen.push(x);
      return x * 10;
    });
    expect(seen).toEqual([3, 1, 2]);
    expect(out).toEqual([30, 10, 20]);
  });

  it('lets the event loop turn between batches of 64 calls, not within one', async () => {
    const turnsAt: number[] = [];
    let calls = 0;
    const tick = () => {
      turnsAt.push(calls);
      if (calls < 200) setImmediate(tick);
    };
    setImmediate(tick);
    await inTurns(
      Array.from({ length: 200 }, (_, i) => i),
      () => {
        calls++;
      },
    );
    // every turn the loop took fell between two batches of synchronous calls
    expect(turnsAt.length).toBeGreaterThanOrEqual(3);
    for (const at of turnsAt.filter((n) => n < 200)) expect(at % 64).toBe(0);
  });

  it('stops at the first call that throws, with its error', async () => {
    const seen: number[] = [];
    await expect(
      inTurns([1, 2, 3], (x) => {
        seen.push(x);
        if (x === 2) throw new Error('two');
      }),
    ).rejects.toThrow('two');
    expect(seen).toEqual([1, 2]);
  });
});

describe('statNow', () => {
  it('gives the stats of what is there and undefined for what is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rd-fs-now-'));
    try {
      await writeFile(join(dir, 'a'), 'abc');
      expect(statNow(join(dir, 'a'))?.size).toBe(3);
      expect(statNow(join(dir, 'missing'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
