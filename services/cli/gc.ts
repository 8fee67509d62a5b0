import type { Command } from 'commander';
import { call, type Globals, out, table, when } from './common.ts';
import { bytes } from './sync.ts';

type Row = Record<string, unknown>;

const gcTable = (p: Row) => {
  const rs = p.releases as Row[];
  const left = p.leftovers as Row;
  return [
    rs.length
      ? table(
          ['TICKET', 'PRODUCT', 'VERSION', 'STATUS', 'SINCE', 'DAYS', 'PACKAGES', 'DELETED', 'KEPT (SHARED)', 'FREED'],
          rs.map((r) => [
            r.ticket,
            r.product,
            r.version,
            r.status,
            when(r.since),
            r.days,
            r.packages,
            r.deleted,
            r.kept,
            bytes(r.bytesFreed),
          ]),
        )
      : 'no release is past its retention',
    Number(left.files) ? `blobs no release records: ${left.files} (${bytes(left.bytes)})` : '',
    `${p.dryRun ? 'would free' : 'freed'} ${bytes(p.bytesFreed)}${p.dryRun ? '; dry run: nothing was deleted' : ''}`,
  ]
    .filter(Boolean)
    .join('\n');
};

/** `releasedesk gc`: purge releases past their retention (README: Retention). */
export function gcCommands(program: Command, g: () => Globals): void {
  program
    .command('gc')
    .description('purge the packages of releases past their retention (Deprecated, Rejected, Failed); needs --token')
    .option('--dry-run', 'list what would be deleted and the bytes freed; delete nothing', false)
    .action(async (o: { dryRun: boolean }) => {
      const r = o.dryRun ? await call(g(), 'GET', '/gc/plan') : await call(g(), 'POST', '/gc');
      out(g(), r, () => gcTable(r));
    });
}
