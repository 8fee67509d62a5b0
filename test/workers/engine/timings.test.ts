/** The per-category time accumulator, on a clock the test moves by hand. */
import { describe, expect, it } from 'vitest';
import type { Helpdesk } from '../../../services/helpdesk/port.ts';
import { timedHelpdesk, Timings, TIMING_CATEGORIES } from '../../../workers/engine/timings.ts';

function clock() {
  let now = 1000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A promise the test resolves when it wants, to hold an operation in flight while the clock moves. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('Timings', () => {
  it('adds wall ms per category; other is the rest of the total', async () => {
    const c = clock();
    const t = new Timings(c.now);
    await t.time('download', async () => c.advance(120));
    c.advance(30); // untimed: other
    await t.time('db', () => c.advance(7));
    await t.time('download', async () => c.advance(80));
    const r = t.report();
    expect(r).toMatchObject({ download: 200, db: 7, header: 0, other: 30, total: 237 });
    expect(Object.keys(r).sort()).toEqual([...TIMING_CATEGORIES, 'other', 'total'].sort());
  });

  it('counts overlapping operations of one category once (wall time, not the sum)', async () => {
    const c = clock();
    const t = new Timings(c.now);
    const a = gate();
    const b = gate();
    const ra = t.time('header', () => a.p);
    c.advance(10);
    const rb = t.time('header', () => b.p);
    c.advance(20);
    a.open();
    await ra;
    c.advance(5);
    b.open();
    await rb;
    expect(t.report()).toMatchObject({ header: 35, other: 0, total: 35 });
  });

  it('counts a failing operation and rethrows its error', async () => {
    const c = clock();
    const t = new Timings(c.now);
    await expect(
      t.time('rt-write', async () => {
        c.advance(9);
        throw new Error('RT away');
      }),
    ).rejects.toThrow('RT away');
    expect(t.report()).toMatchObject({ 'rt-write': 9, total: 9 });
  });

  it('reports an operation still in flight up to now', async () => {
    const c = clock();
    const t = new Timings(c.now);
    const g = gate();
    const pending = t.time('index', () => g.p);
    c.advance(50);
    expect(t.report()).toMatchObject({ index: 50, total: 50 });
    g.open();
    await pending;
  });
});

describe('timedHelpdesk', () => {
  it('times reads as rt-read and writes as rt-write, passing arguments and results through', async () => {
    const c = clock();
    const t = new Timings(c.now);
    const calls: unknown[] = [];
    const slow =
      (ms: number, result?: unknown) =>
      async (...args: unknown[]) => {
        calls.push(args);
        c.advance(ms);
        return result;
      };
    const rt = {
      getTicket: slow(11, { id: 5 }),
      history: slow(1),
      getReleaseXml: slow(1),
      getUserEmail: slow(2, 'a@b'),
      userGroups: slow(1, []),
      noteText: slow(1, null),
      hasComment: slow(1, false),
      ping: slow(1),
      setCustomFields: slow(13),
      comment: slow(17),
      addAdminCcGroup: slow(1),
    } as unknown as Helpdesk;
    const timed = timedHelpdesk(rt, t);
    expect(await timed.getTicket(5)).toEqual({ id: 5 });
    expect(await timed.getUserEmail('u')).toBe('a@b');
    await timed.setCustomFields(5, { RepoStatus: 'Processing' });
    await timed.comment(5, 'hi');
    expect(calls).toEqual([[5], ['u'], [5, { RepoStatus: 'Processing' }], [5, 'hi']]);
    expect(t.report()).toMatchObject({ 'rt-read': 13, 'rt-write': 30, other: 0 });
  });
});
