/** The batch gate of the intake, with a DataLoader as the intake uses it and batch functions the test releases. */
import DataLoader from 'dataloader';
import { describe, expect, it } from 'vitest';
import { inFlightGate } from '../../services/in-flight.ts';

/** A loader whose every batch waits until the test releases it; records the batches it was given. */
function loader(max: number, maxBatchSize = 100) {
  const gate = inFlightGate(max);
  const batches: number[][] = [];
  const release: Array<() => void> = [];
  const l = new DataLoader<number, number>(
    (keys) =>
      gate.run(async () => {
        batches.push([...keys]);
        await new Promise<void>((r) => release.push(r));
        return keys.map((k) => k * 10);
      }),
    { cache: false, maxBatchSize, batchScheduleFn: gate.schedule },
  );
  return { l, batches, release };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('inFlightGate', () => {
  it('sends what arrived in one turn as one batch, without waiting for a timer', async () => {
    const { l, batches, release } = loader(1);
    const loads = [1, 2, 3].map((k) => l.load(k));
    await turn();
    expect(batches).toEqual([[1, 2, 3]]);
    release.shift()!();
    expect(await Promise.all(loads)).toEqual([10, 20, 30]);
  });

  it('while `max` batches are out, the next ones wait and grow; each goes when one comes back', async () => {
    const { l, batches, release } = loader(2);
    const all = [l.load(1)];
    await turn();
    all.push(l.load(2));
    await turn();
    expect(batches).toEqual([[1], [2]]);
    // both slots taken: these three arrive over several turns and still travel together
    for (const k of [3, 4, 5]) {
      all.push(l.load(k));
      await turn();
    }
    expect(batches).toHaveLength(2);
    release.shift()!();
    await turn();
    await turn();
    expect(batches).toEqual([[1], [2], [3, 4, 5]]);
    while (release.length) release.shift()!();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it('a batch that fails frees its slot like one that succeeds', async () => {
    const gate = inFlightGate(1);
    let calls = 0;
    const l = new DataLoader<number, number>(
      (keys) =>
        gate.run(async () => {
          calls++;
          if (calls === 1) throw new Error('refused');
          return keys.map((k) => k);
        }),
      { cache: false, batchScheduleFn: gate.schedule },
    );
    await expect(l.load(1)).rejects.toThrow('refused');
    expect(await l.load(2)).toBe(2);
  });

  it('a full batch (maxBatchSize) waits in line behind the one that is out', async () => {
    const { l, batches, release } = loader(1, 2);
    const all = [1, 2, 3, 4, 5].map((k) => l.load(k));
    await turn();
    expect(batches).toEqual([[1, 2]]);
    for (let i = 0; i < 3; i++) {
      release.shift()!();
      await turn();
      await turn();
    }
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });
});
