import { constants, PerformanceObserver } from 'node:perf_hooks';

/** The GCs V8 reports while `work` runs, as [kind, forced] (kind: constants.NODE_PERFORMANCE_GC_*). */
export async function gcsDuring(work: () => unknown): Promise<Array<[number, boolean]>> {
  const seen: Array<[number, boolean]> = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const d = (e as PerformanceEntry & { detail: { kind: number; flags: number } }).detail;
      seen.push([d.kind, (d.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0]);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  try {
    await work();
    await new Promise((r) => setTimeout(r, 50)); // entries are delivered after the turn
  } finally {
    obs.disconnect();
  }
  return seen;
}

/** How many young collections were asked for by a gc() call (young-gc.ts) among `gcs`. */
export const forcedMinor = (gcs: Array<[number, boolean]>) =>
  gcs.filter(([kind, forced]) => forced && kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
