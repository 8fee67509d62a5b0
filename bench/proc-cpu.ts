/**
 * Who used the machine's CPU in a window, from /proc: each process's user + system time, its reaped
 * children's included (a tool the worker ran counts as the worker's), named by what it runs, and the
 * machine's idle time. On two shared cores the release's time is as much RT's and PostgreSQL's CPU as the
 * worker's; this says whose.
 *   const a = cpuSnapshot(); ...; printCpu(a, cpuSnapshot(), labels)
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: Linux reports process times in 1/100 s on every architecture Node runs on */
const TICK_MS = 10;

interface Snapshot {
  procs: Map<number, { name: string; ms: number }>;
  busyMs: number;
  idleMs: number;
}

export function cpuSnapshot(labels: Map<number, string> = new Map()): Snapshot {
  const procs = new Map<number, { name: string; ms: number }>();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // fields after the command name, which may hold spaces and parentheses
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      procs.set(pid, {
        name: labels.get(pid) ?? nameOf(pid, stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))),
        ms: ticks * TICK_MS,
      });
    } catch {
      // a process that ended while /proc was read
    }
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [number, number, number, number, number, number, number, number];
  return { procs, busyMs: (user + nice + system + irq + softirq + steal) * TICK_MS, idleMs: (idle + iowait) * TICK_MS };
}

function nameOf(pid: number, comm: string): string {
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  if (cmd.includes('services/main.ts')) return `releasedesk ${/--role (\w+)/.exec(cmd)?.[1] ?? ''}`.trim();
  if (cmd.includes('rpm-reader.py')) return 'RPM reader';
  if (comm === 'postgres') return 'PostgreSQL';
  if (comm.startsWith('redis')) return 'Redis';
  if (comm === 'perl' || cmd.includes('rt-server') || cmd.includes('plackup')) return 'RT (perl)';
  // Node names its main thread: a process started with node -e shows as MainThread
  if (cmd.includes('createServer')) return 'file server';
  return comm;
}

/** The CPU each kind of process used between two snapshots, most first, and the machine's busy share. */
export function printCpu(a: Snapshot, b: Snapshot, what: string, indent = '    '): void {
  const by = new Map<string, number>();
  for (const [pid, p] of b.procs) {
    const ms = p.ms - (a.procs.get(pid)?.ms ?? 0);
    if (ms > 0) by.set(p.name, (by.get(p.name) ?? 0) + ms);
  }
  const busy = b.busyMs - a.busyMs;
  const all = busy + (b.idleMs - a.idleMs);
  const share = ((100 * busy) / Math.max(1, all)).toFixed(0);
  console.log(`${indent}CPU used by ${what}: ${busy} ms, ${share} % of the cores' ${all} ms`);
  for (const [name, ms] of [...by].sort((x, y) => y[1] - x[1]).slice(0, 8))
    console.log(`${indent}  ${name.padEnd(22)} ${String(ms).padStart(6)} ms`);
}
