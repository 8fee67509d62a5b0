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

/**
 * A process's CPU by thread kind (user / system ms): the main thread, libuv's pool (file system, zlib,
 * crypto), V8's helpers (GC, compiling), and its children, once reaped. Tells whether the worker's CPU
 * is JavaScript or the kernel's work behind the pool.
 */
export function threadCpu(pid: number): Map<string, { user: number; sys: number }> {
  const out = new Map<string, { user: number; sys: number }>();
  const add = (name: string, user: number, sys: number) => {
    const t = out.get(name) ?? { user: 0, sys: 0 };
    out.set(name, { user: t.user + user * TICK_MS, sys: t.sys + sys * TICK_MS });
  };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind =
        tid === String(pid) ? 'main thread' : comm.startsWith('libuv') ? 'libuv pool' : comm.startsWith('V8') ? 'V8 helpers' : comm;
      add(kind, Number(f[11]), Number(f[12]));
    } catch {
      // a thread that ended while it was read
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  add('reaped children', Number(f[13]), Number(f[14]));
  return out;
}

/** Two threadCpu readings side by side. */
export function printThreads(a: ReturnType<typeof threadCpu>, b: ReturnType<typeof threadCpu>, what: string, indent = '    '): void {
  console.log(`${indent}${what}, by thread (user + system ms):`);
  for (const [name, t] of [...b].sort((x, y) => y[1].user + y[1].sys - (x[1].user + x[1].sys))) {
    const user = t.user - (a.get(name)?.user ?? 0);
    const sys = t.sys - (a.get(name)?.sys ?? 0);
    if (user + sys > 0) console.log(`${indent}  ${name.padEnd(22)} ${String(user).padStart(6)} + ${String(sys).padStart(5)} ms`);
  }
}
