/**
 * bench/release.ts run again and again, each run a child process with its own packages, worker and tickets,
 * and the figures that matter in one table with their medians: on this 2-core machine one run's ratio moves
 * by half its value (1.1 to 1.8 on the same code, bench/RESULTS.md), so one run proves nothing.
 * BENCH_BEFORE=<another checkout> alternates that tree's release.ts with this one's (before, after, before...):
 * a change measured in pairs, side by side, under the same machine weather. Other BENCH_* variables reach
 * every run. BENCH_VARIANTS="name:VAR=value,VAR=value name:..." alternates runs of this tree that differ by
 * their environment instead (a switch in the code, a bench setting). Run it under the RT lock, as release.ts.
 *   node bench/release-runs.ts [runs=5] [packages=100] [payloadKiB=64] [rpm|deb]
 *   BENCH_BEFORE=/work/wt-before node bench/release-runs.ts 6
 *   BENCH_VARIANTS="cold:BENCH_WARM_PACKAGES=3 warm:BENCH_WARM_PACKAGES=100" node bench/release-runs.ts 4
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { runMain } from './run-main.ts';
import { median } from './stats.ts';

const exec = promisify(execFile);
const [runs = 5, ...args] = process.argv.slice(2);
const here = path.resolve(import.meta.dirname, '..');

/** "name:A=1,B=2": a variant's name and the environment it adds to this process's */
function variant(spec: string): { name: string; dir: string; env: Record<string, string> } {
  const [name, vars = ''] = spec.split(/:(.*)/s);
  const env = Object.fromEntries(
    vars
      .split(',')
      .filter(Boolean)
      .map((kv) => {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`BENCH_VARIANTS: ${JSON.stringify(kv)} in ${JSON.stringify(spec)} is not VAR=value`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }),
  );
  return { name: name!, dir: here, env };
}

const trees = process.env.BENCH_VARIANTS
  ? process.env.BENCH_VARIANTS.trim().split(/\s+/).map(variant)
  : process.env.BENCH_BEFORE
    ? [
        { name: 'before', dir: path.resolve(process.env.BENCH_BEFORE), env: {} },
        { name: 'after', dir: here, env: {} },
      ]
    : [{ name: 'this', dir: here, env: {} }];

/** What one run printed, by the labels release.ts prints them with; NaN for a figure it did not print. */
const FIGURES = {
  'release s': /RepoStatus=Unverified in RT\s+([\d.]+) s/,
  'raw s': /raw tools: .*?([\d.]+) s/,
  'RT calls s': /RT calls with curl, in turn\s+([\d.]+) s/,
  ratio: /ratio releasedesk\/\(raw tools \+ RT calls\): ([\d.]+)/,
  'download ms': /^ {4}download\s+(\d+) ms/m,
  'fsync ms': /^ {4}fsync\s+(\d+) ms/m,
  'db ms': /^ {4}db\s+(\d+) ms/m,
  'index ms': /^ {4}index\s+(\d+) ms/m,
  'job ms': /^ {4}job total\s+(\d+) ms/m,
  'worker CPU ms': /^ {6}releasedesk worker\s+(\d+) ms/m,
  'RSS MiB': /VmHWM\): (\d+) MiB/,
} as const;
type Figure = keyof typeof FIGURES;
const names = Object.keys(FIGURES) as Figure[];

function read(out: string): Record<Figure, number> {
  return Object.fromEntries(names.map((k) => [k, Number(FIGURES[k].exec(out)?.[1] ?? Number.NaN)])) as Record<Figure, number>;
}

const cell = (k: Figure, v: number) => (Number.isNaN(v) ? '-' : k.endsWith(' s') || k === 'ratio' ? v.toFixed(2) : String(Math.round(v)));

function table(rows: Array<{ label: string; got: Record<Figure, number> }>) {
  const widths = names.map((k) => Math.max(k.length, ...rows.map((r) => cell(k, r.got[k]).length)));
  const line = (label: string, cells: string[]) =>
    console.log(`${label.padEnd(14)} ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`);
  line('', names);
  for (const r of rows)
    line(
      r.label,
      names.map((k) => cell(k, r.got[k])),
    );
}

async function main() {
  const rows: Array<{ tree: string; label: string; got: Record<Figure, number> }> = [];
  for (let i = 1; i <= Number(runs); i++) {
    for (const t of trees) {
      const { stdout } = await exec(process.execPath, ['bench/release.ts', ...args], {
        cwd: t.dir,
        env: { ...process.env, ...t.env },
        maxBuffer: 64 * 2 ** 20,
      });
      const got = read(stdout);
      rows.push({ tree: t.name, label: `${t.name} ${i}`, got });
      console.log(`${t.name} ${i}: ${names.map((k) => `${k} ${cell(k, got[k])}`).join(', ')}`);
    }
  }
  console.log(
    `\nbench/release.ts ${args.join(' ') || '(defaults)'}, ${runs} run(s)${trees.length > 1 ? ` of each of ${trees.map((t) => t.name).join(', ')}, alternating` : ''}:`,
  );
  table([
    ...rows,
    ...trees.map((t) => ({
      label: `median ${t.name}`,
      got: Object.fromEntries(
        names.map((k) => [
          k,
          median(
            rows
              .filter((r) => r.tree === t.name)
              .map((r) => r.got[k])
              .filter((x) => !Number.isNaN(x)),
          ),
        ]),
      ) as Record<Figure, number>,
    })),
  ]);
}

runMain(main);
