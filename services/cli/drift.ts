import type { Command } from 'commander';
import { call, CliError, EXIT, type Globals, out, table, when } from './common.ts';

type Row = Record<string, unknown>;

const report = (r: Row) => {
  const items = r.items as Row[];
  const c = r.checked as Row;
  return [
    items.length
      ? table(
          ['KIND', 'TICKET', 'WHERE', 'EXPECTED', 'ACTUAL', 'REPAIRED'],
          items.map((i) => [i.kind, i.ticket, i.where, i.expected, i.actual, i.repaired ? 'yes: fields written again' : 'no']),
        )
      : 'no drift: tickets, records, repositories and mirrors agree',
    `checked ${when(r.checked_at)} in ${r.duration_ms} ms${r.deep ? ' (deep: every file hashed)' : ''}: ${c.tickets} tickets, ${c.repositories} repositories, ${c.files} files, ${c.mirrors} mirrors`,
    ...(r.skipped as string[]).map((s) => `not compared: ${s}`),
  ].join('\n');
};

/** `releasedesk drift`: where tickets, records, repositories and mirrors disagree (README: Drift). */
export function driftCommands(program: Command, g: () => Globals): void {
  program
    .command('drift')
    .description('show the last drift check (exit 5 when it found differences); --now runs one (needs --token)')
    .option('--now', 'check now instead of showing the last check', false)
    .option('--deep', 'with --now: hash every file, not only compare sizes', false)
    .action(async (o: { now: boolean; deep: boolean }) => {
      const r = o.now ? await call(g(), 'POST', `/drift/check${o.deep ? '?deep=1' : ''}`) : await call(g(), 'GET', '/drift');
      const rep = r.report as Row | null;
      if (!rep) return out(g(), r, () => 'no drift check has run yet: run one with releasedesk drift --now');
      out(g(), rep, () => report(rep));
      if ((rep.items as Row[]).length) throw new CliError('', EXIT.drift);
    });
}
