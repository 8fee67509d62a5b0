/**
 * V8's --trace-gc lines of a process (isGcLine keeps only these), summed: how many full mark-compacts and scavenges, and the time they held
 * its main thread (pauses, and the incremental marking steps a mark-compact reports).
 */
export type GcLine = { at: number; line: string };

const kind = /: (Mark-Compact|Scavenge) /;

export const isGcLine = (line: string) => kind.test(line);

export function gcSummary(lines: GcLine[]): string {
  let mc = 0;
  let mcMs = 0;
  let steps = 0;
  let sc = 0;
  let scMs = 0;
  for (const { line } of lines) {
    const pause = Number(/MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \//.exec(line)?.[1] ?? 0);
    if (kind.exec(line)?.[1] === 'Mark-Compact') {
      mc++;
      mcMs += pause;
      steps += Number(/\(\+ ([\d.]+) ms in/.exec(line)?.[1] ?? 0);
    } else {
      sc++;
      scMs += pause;
    }
  }
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return `${n(mc)} mark-compacts (${n(mcMs)} ms paused + ${n(steps)} ms of marking steps), ${n(sc)} scavenges (${n(scMs)} ms)`;
}
