import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { call, CliError, dash, EXIT, type Globals, out, request, table, when } from './common.ts';
import { driftCommands } from './drift.ts';
import { evidenceCommands } from './evidence.ts';
import { gcCommands } from './gc.ts';
import { syncCommands } from './sync.ts';
import { sha256File } from '../storage/blobs.ts';
import { PROMOTION_TARGETS } from '../workflow/transitions.ts';

/** The file an answer carries, written into dir under the name the service gave it. */
async function save(res: Response, dir: string, fallback: string): Promise<string> {
  const named = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1];
  const file = join(dir, basename(named ?? fallback));
  await mkdir(dir, { recursive: true });
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file, { flags: 'wx' })).catch(
    (e: NodeJS.ErrnoException) => {
      throw new CliError(e.code === 'EEXIST' ? `${file} exists already: remove it or choose another --out` : e.message, EXIT.refused);
    },
  );
  return file;
}

type Rel = Record<string, unknown>;
const due = (r: Rel) => {
  const sla = r.sla as Rel | null | undefined;
  if (!sla) return null;
  return sla.overdue ? `OVERDUE since ${when(sla.deadlineAt).slice(0, 10)}` : when(sla.deadlineAt).slice(0, 10);
};
const releaseRows = (rs: Rel[]) =>
  table(
    ['TICKET', 'PRODUCT', 'VERSION', 'REVISION', 'PLATFORM', 'ARCH', 'STATUS', 'UPDATED', 'DUE'],
    rs.map((r) => [
      r.ticket,
      r.product,
      r.version,
      r.revision ? `v${r.revision}` : null,
      r.platform,
      r.arch,
      r.status,
      when(r.updatedAt),
      due(r),
    ]),
  );

export function cli(): Command {
  const program = new Command('releasedesk')
    .description("releasedesk: releases, their history and retries, from the service's HTTP API")
    .addOption(new Option('--url <url>', 'service URL').env('RELEASEDESK_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'bearer token (one of API_TOKENS) for export').env('RELEASEDESK_TOKEN'))
    .option('--json', 'print JSON for scripts', false)
    .showHelpAfterError()
    .exitOverride();
  const g = () => program.opts() as Globals;

  program
    .command('get')
    .argument('[ticket]', 'one release; without it, the newest releases')
    .description('show a release, or list the newest')
    .action(async (ticket?: string) => {
      if (!ticket) {
        const r = await call(g(), 'GET', '/releases');
        return out(g(), r, () => releaseRows(r.releases as Rel[]));
      }
      const r = await call(g(), 'GET', `/releases/${encodeURIComponent(ticket)}`);
      out(g(), r, () =>
        [
          releaseRows([r]),
          `repository: ${dash(r.repoUri)}`,
          r.tombstone ? `tombstone: ${JSON.stringify(r.tombstone)}` : '',
          table(
            ['PACKAGE', 'SHA256', 'SIZE'],
            (r.packages as Rel[]).map((p) => [p.filename, p.sha256, p.size]),
          ),
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  program
    .command('list')
    .description('list releases')
    .option('--status <status>', 'only this RepoStatus')
    .option('--product <name>', 'only this productShortName')
    .option('--overdue', 'only releases past their deadline in their status (SLA_DEADLINES)')
    .action(async (o: { status?: string; product?: string; overdue?: boolean }) => {
      const q = new URLSearchParams(
        Object.entries({ ...o, overdue: o.overdue ? '1' : undefined }).filter(([, v]) => v) as [string, string][],
      );
      const r = await call(g(), 'GET', `/releases${q.size ? `?${q}` : ''}`);
      out(g(), r, () => releaseRows(r.releases as Rel[]));
    });

  program
    .command('history')
    .argument('<ticket>')
    .description('every transition of a release: who, when, from, to, outcome')
    .action(async (ticket: string) => {
      const r = await call(g(), 'GET', `/releases/${encodeURIComponent(ticket)}/history`);
      out(g(), r, () =>
        table(
          ['WHEN', 'ACTOR', 'ACTION', 'FROM', 'TO', 'OUTCOME', 'CODE', 'MS'],
          (r.transitions as Rel[]).map((t) => [when(t.at), t.actor, t.action, t.from, t.to, t.outcome, t.code, t.durationMs]),
        ),
      );
    });

  program
    .command('validate')
    .argument('<ticket>')
    .description('would the release pass into a repository now? the dependency check, nothing moves')
    .addOption(new Option('--target <stage>', 'the repository it would enter').choices(PROMOTION_TARGETS).makeOptionMandatory())
    .option('--remote <peer>', "ask another desk (its PEERS name or URL) whether its target would take the release's requirements")
    .action(async (ticket: string, o: { target: string; remote?: string }) => {
      const remote = o.remote ? `&remote=${encodeURIComponent(o.remote)}` : '';
      const r = await call(g(), 'GET', `/releases/${encodeURIComponent(ticket)}/validate?target=${o.target}${remote}`);
      const missing = (r.unmet as Rel[]).map((u) => [u.package, u.requirement, 'missing']);
      const unchecked = (r.unchecked as Rel[]).map((u) => [u.package, u.requirement, 'not checked (file or rich dependency)']);
      out(g(), r, () =>
        [
          `ticket ${r.ticket} (${r.status}) into ${r.remote ? `${r.target} of desk ${r.remote}` : r.target}: ${r.satisfied ? 'every requirement is met' : `${missing.length} requirement(s) missing`}`,
          missing.length + unchecked.length ? table(['PACKAGE', 'REQUIREMENT', 'RESULT'], [...missing, ...unchecked]) : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
      if (!r.satisfied) throw new CliError('', EXIT.unmet);
    });

  program
    .command('export')
    .argument('<ticket>')
    .description('write the signed bundle of a release, and the release.xml a receiving desk attaches to its ticket')
    .option('--out <dir>', 'where to write both files', '.')
    .option('--bundle-url <url>', 'where the receiving desk will fetch the bundle (default: this service)')
    .action(async (ticket: string, o: { out: string; bundleUrl?: string }) => {
      const t = encodeURIComponent(ticket);
      const bundle = await save(await request(g(), 'GET', `/releases/${t}/bundle`, 'application/gzip'), o.out, `ticket-${t}.bundle.tar.gz`);
      const q = o.bundleUrl ? `?url=${encodeURIComponent(o.bundleUrl)}` : '';
      const xml = await save(await request(g(), 'GET', `/releases/${t}/bundle/release.xml${q}`, 'application/xml'), o.out, 'release.xml');
      const { sha256, size } = await sha256File(bundle);
      const xmlSize = (await stat(xml)).size;
      const r = { ticket: Number(ticket), bundle, sha256, size, releaseXml: xml };
      out(g(), r, () =>
        [
          table(
            ['FILE', 'SHA256', 'SIZE'],
            [
              [bundle, sha256, size],
              [xml, '', xmlSize],
            ],
          ),
          `next: put the bundle where the receiving desk can fetch it${o.bundleUrl ? ` (${o.bundleUrl})` : ''}, and attach ${basename(xml)} to a release ticket in its queue; its synchURL names the bundle`,
        ].join('\n'),
      );
    });

  program
    .command('retry')
    .argument('<ticket>')
    .description('re-run the last failed action of a release')
    .action(async (ticket: string) => {
      const r = await call(g(), 'POST', `/releases/${encodeURIComponent(ticket)}/retry`);
      out(g(), r, () => `queued: ${r.action} on ticket ${r.ticket} again (inbox ${r.inbox}, retry of ${r.retryOf})`);
    });
  syncCommands(program, g);
  gcCommands(program, g);
  driftCommands(program, g);
  evidenceCommands(program, g);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await cli().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return EXIT.ok;
    if (code?.startsWith('commander.')) return EXIT.usage;
    if ((e as Error).message) console.error((e as Error).message);
    return e instanceof CliError ? e.exitCode : EXIT.refused;
  }
}
