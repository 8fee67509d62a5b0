import { Option, type Command } from 'commander';
import { call, CliError, EXIT, type Globals, out, table, when } from './common.ts';

type Row = Record<string, unknown>;

export const bytes = (n: unknown) => {
  let v = Number(n ?? 0);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB']) {
    if (v < 1024 || unit === 'GiB') return unit === 'B' ? `${v} B` : `${v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return String(n);
};
const lag = (s: unknown) => (Number(s) ? `${Math.round(Number(s))} s` : '0');

const statusTable = (ms: Row[]) =>
  table(
    ['TARGET', 'WHERE', 'STATE', 'LAST SYNC', 'LAG', 'FAILURES', 'FILES', 'SIZE', 'LAST ERROR'],
    ms.map((m) => [
      m.name,
      m.where,
      m.state,
      when(m.last_success_at),
      lag(m.lag_seconds),
      m.failures,
      m.files,
      bytes(m.bytes),
      m.last_error_code ? `[${m.last_error_code}] ${String(m.last_error).slice(0, 80)}` : null,
    ]),
  );

const planTable = (ps: Row[]) =>
  table(
    ['TARGET', 'UPLOAD', 'PACKAGES', 'INDEXES', 'SIGNED', 'BYTES UP', 'COPIES', 'DELETE', 'BYTES FREED', 'UNCHANGED', 'CHANGED THERE'],
    ps.map((p) => {
      if (p.error) return [p.target, `error: ${(p.error as Row).code} ${(p.error as Row).message}`];
      const up = p.upload as Row & { byPhase: Row };
      const del = p.delete as Row;
      return [
        p.target,
        up.files,
        up.byPhase.package,
        up.byPhase.index,
        up.byPhase.signed,
        bytes(up.bytes),
        up.copies,
        del.enabled ? del.files : 'off',
        del.enabled ? bytes(del.bytes) : '-',
        p.unchanged,
        (p.changedOnTarget as string[]).length,
      ];
    }),
  );

/** `releasedesk sync …`: the mirrors of Production (README: Mirrors). */
export function syncCommands(program: Command, g: () => Globals): void {
  program
    .command('sync')
    .argument('[status]', '"status": each mirror\'s state, lag and last error')
    .description('sync the mirrors of Production now and wait; --dry-run prints the plan and changes nothing')
    .option('--dry-run', 'list each target and print what a sync would upload and delete; needs --token', false)
    .option('--target <name>', 'only this MIRROR_TARGETS entry')
    .option('--no-wait', 'return once the sync is requested')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the sync').default(600).argParser(Number))
    .action(async (what: string | undefined, o: { dryRun: boolean; target?: string; wait: boolean; timeout: number }) => {
      const q = o.target ? `?target=${encodeURIComponent(o.target)}` : '';
      if (what === 'status') {
        const r = await call(g(), 'GET', '/mirrors');
        return out(g(), r, () =>
          (r.mirrors as Row[]).length ? statusTable(r.mirrors as Row[]) : 'no mirror is configured (MIRROR_TARGETS)',
        );
      }
      if (what !== undefined)
        throw new CliError(`unknown argument "${what}": use "releasedesk sync status" or "releasedesk sync [--dry-run]"`, EXIT.usage);
      if (o.dryRun) {
        const r = await call(g(), 'GET', `/mirrors/plan${q}`);
        return out(g(), r, () => `${planTable(r.plans as Row[])}\ndry run: nothing was changed`);
      }
      const r = await call(g(), 'POST', `/mirrors/sync${q}`);
      const asked = new Date(String(r.requested_at)); // the service's clock, as the times it reports
      const names = r.requested as string[];
      if (!o.wait) return out(g(), r, () => `requested: ${names.join(', ')}; the worker syncs within ${Number(r.within_ms) / 1000} s`);
      const deadline = Date.now() + o.timeout * 1000;
      for (let shown = ''; ; ) {
        const s = (await call(g(), 'GET', '/mirrors')).mirrors as Row[];
        const mine = s.filter((m) => names.includes(String(m.name)));
        const after = (v: unknown) => v !== null && new Date(String(v)) > asked;
        const failed = mine.filter((m) => Number(m.failures) > 0 && after(m.last_attempt_at));
        const done = mine.filter((m) => after(m.last_success_at));
        if (failed.length + done.length === mine.length) {
          out(g(), { mirrors: mine }, () => statusTable(mine));
          if (failed.length)
            throw new CliError(`${failed.map((m) => m.name).join(', ')}: the sync failed; the worker tries again by itself`, EXIT.refused);
          return;
        }
        if (Date.now() > deadline)
          throw new CliError(
            `no result within ${o.timeout} s; is a worker running? "releasedesk sync status" shows the state`,
            EXIT.unreachable,
          );
        const line = `waiting for the worker: ${mine.map((m) => `${m.name} ${m.state}`).join(', ')}`;
        if (line !== shown && !g().json) console.error(line);
        shown = line;
        await new Promise((res) => setTimeout(res, 500));
      }
    });
}
