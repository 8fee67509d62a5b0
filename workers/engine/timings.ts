/**
 * Where an action's time goes: wall milliseconds per kind of work, for the engine's "action done" line and
 * bench/release.ts. Never checkpointed: a rerun after kill -9 measures only what it does itself.
 */
import { performance } from 'node:perf_hooks';
import type { Helpdesk } from '../../services/helpdesk/port.ts';

export const TIMING_CATEGORIES = [
  'download',
  'unpack',
  'hash',
  'header',
  'fsync',
  'db',
  'index',
  'deps',
  'rt-read',
  'rt-write',
  'store',
] as const;
export type TimingCategory = (typeof TIMING_CATEGORIES)[number];

/** ms per category, `other` (total minus the categories) and `total`, whole milliseconds. */
export type TimingReport = Record<TimingCategory | 'other' | 'total', number>;

/**
 * A category counts the wall time during which at least one of its operations was in flight, so four
 * header reads at once count once, not four times. Categories are not nested by the callers: an operation
 * is timed as the innermost thing it is (a DB transaction that reads RT would count in both).
 */
export class Timings {
  private readonly started: number;
  private readonly spent = new Map<TimingCategory, number>();
  private readonly open = new Map<TimingCategory, { n: number; since: number }>();

  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
    this.started = now();
  }

  async time<T>(category: TimingCategory, fn: () => Promise<T> | T): Promise<T> {
    this.enter(category);
    try {
      return await fn();
    } finally {
      this.leave(category);
    }
  }

  report(): TimingReport {
    const at = this.now();
    const out = { total: Math.round(at - this.started) } as TimingReport;
    let sum = 0;
    for (const c of TIMING_CATEGORIES) {
      const o = this.open.get(c);
      const ms = (this.spent.get(c) ?? 0) + (o ? at - o.since : 0);
      out[c] = Math.round(ms);
      sum += ms;
    }
    out.other = Math.max(0, Math.round(at - this.started - sum));
    return out;
  }

  private enter(c: TimingCategory) {
    const o = this.open.get(c);
    if (o) o.n++;
    else this.open.set(c, { n: 1, since: this.now() });
  }

  private leave(c: TimingCategory) {
    const o = this.open.get(c)!;
    if (--o.n > 0) return;
    this.open.delete(c);
    this.spent.set(c, (this.spent.get(c) ?? 0) + this.now() - o.since);
  }
}

/** The helpdesk as an action sees it: every call timed as rt-read or rt-write. */
export function timedHelpdesk(rt: Helpdesk, timings: Timings): Helpdesk {
  const as =
    (category: TimingCategory) =>
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    (...args: A) =>
      timings.time(category, () => f.apply(rt, args));
  const read = as('rt-read');
  const write = as('rt-write');
  return {
    getTicket: read(rt.getTicket),
    readTicket: async (id: number) => {
      const got = await timings.time('rt-read', () => rt.readTicket(id));
      return { ...got, history: timings.time('rt-read', () => got.history) };
    },
    getReleaseXml: read(rt.getReleaseXml),
    getUserEmail: read(rt.getUserEmail),
    userGroups: read(rt.userGroups),
    noteText: read(rt.noteText),
    hasComment: read(rt.hasComment),
    ping: read(rt.ping),
    checkPassword: read(rt.checkPassword),
    setCustomFields: write(rt.setCustomFields),
    comment: write(rt.comment),
    addAdminCcGroup: write(rt.addAdminCcGroup),
  };
}
