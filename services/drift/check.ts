import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import pMap from 'p-map';
import type { Config } from '../../config/index.ts';
import { busyScopes, expectedFiles, settledReleases, ticketsOfContent } from '../db/drift.ts';
import type { Db } from '../db/knex.ts';
import { knownObjects, mirrorTargetRow } from '../db/mirrors.ts';
import { enqueueWriteBack } from '../db/outbox.ts';
import { isRdError } from '../errors.ts';
import type { Helpdesk } from '../helpdesk/port.ts';
import { openTarget } from '../mirror/sync.ts';
import { liveRepositories, type LiveRepo } from '../mirror/live.ts';
import { viewFingerprint } from '../mirror/view.ts';
import { packagesNamedBy, type NamedPackage } from '../storage/index-files.ts';
import { STAGES } from '../storage/repo-ref.ts';

/**
 * Drift: where what a ticket says, what releasedesk's records say, and what a repository or mirror holds
 * differ. Each item names the ticket (when one is concerned), the place and the exact difference.
 *   ticket-fields   RT shows another RepoStatus / RepoURI than the record (a write-back RT lost, or a hand edit)
 *   index-missing   a live index lacks a file its stage's records show
 *   index-extra     a live index shows a file no record in its stage has
 *   file-missing    a file an index names is not on disk
 *   file-changed    a file on disk is not what its index says (size, or sha256 with `deep`)
 *   mirror-missing  a file releasedesk put on a mirror that is in step is gone
 *   mirror-changed  a file on a mirror was changed behind releasedesk's back
 * Only ticket-fields is repaired (the record is the truth and the field is the service's): the fields are
 * written again through the outbox. A changed file is named, never overwritten here; a mirror's next sync
 * puts its files back and says so in its log.
 */
export type DriftKind =
  | 'ticket-fields'
  | 'index-missing'
  | 'index-extra'
  | 'file-missing'
  | 'file-changed'
  | 'mirror-missing'
  | 'mirror-changed';

export interface DriftItem {
  kind: DriftKind;
  ticket: number | null;
  where: string;
  expected: string;
  actual: string;
  repaired: boolean;
}

export interface DriftReport {
  checked_at: string;
  duration_ms: number;
  deep: boolean;
  items: DriftItem[];
  /** what could not be compared this time, and why */
  skipped: string[];
  checked: { tickets: number; repositories: number; files: number; mirrors: number };
}

export interface DriftDeps {
  db: Db;
  config: Pick<Config, 'STORAGE_DIR' | 'MIRROR_TARGETS'>;
  /** without one, tickets are not compared */
  helpdesk?: Pick<Helpdesk, 'getTicket'>;
  /** woken when a repair was queued */
  writeBacksQueued?: () => void;
}

export async function checkDrift(deps: DriftDeps, opts: { deep?: boolean; now?: Date } = {}): Promise<DriftReport> {
  const t0 = performance.now();
  const now = opts.now ?? new Date();
  const report: DriftReport = {
    checked_at: now.toISOString(),
    duration_ms: 0,
    deep: !!opts.deep,
    items: [],
    skipped: [],
    checked: { tickets: 0, repositories: 0, files: 0, mirrors: 0 },
  };
  await compareTickets(deps, report);
  await compareRepositories(deps, report, !!opts.deep);
  await compareMirrors(deps, report);
  report.duration_ms = Math.round(performance.now() - t0);
  if (report.items.some((i) => i.repaired)) deps.writeBacksQueued?.();
  return report;
}

async function compareTickets(deps: DriftDeps, report: DriftReport): Promise<void> {
  if (!deps.helpdesk) {
    report.skipped.push('tickets: no helpdesk connection here');
    return;
  }
  const helpdesk = deps.helpdesk;
  const releases = await settledReleases(deps.db);
  try {
    await pMap(
      releases,
      async (r) => {
        const cf = (await helpdesk.getTicket(r.ticket_id)).customFields;
        const shown = { RepoStatus: cf.RepoStatus?.[0] ?? '', RepoURI: cf.RepoURI?.[0] ?? '' };
        const want: Record<string, string> = { RepoStatus: r.status };
        if (r.repo_uri) want.RepoURI = r.repo_uri;
        const wrong = Object.entries(want).filter(([k, v]) => shown[k as keyof typeof shown] !== v);
        report.checked.tickets++;
        if (!wrong.length) return;
        await enqueueWriteBack(deps.db, r.ticket_id, `drift:${r.ticket_id}:${report.checked_at}`, { kind: 'fields', fields: want });
        report.items.push({
          kind: 'ticket-fields',
          ticket: r.ticket_id,
          where: `RT ticket ${r.ticket_id}`,
          expected: wrong.map(([k, v]) => `${k}=${v}`).join(', '),
          actual: wrong.map(([k]) => `${k}=${shown[k as keyof typeof shown] || '(empty)'}`).join(', '),
          repaired: true,
        });
      },
      { concurrency: 4 },
    );
  } catch (e) {
    report.skipped.push(`tickets: RT could not be read (${isRdError(e) ? `${e.code}: ` : ''}${(e as Error).message})`);
  }
}

async function compareRepositories(deps: DriftDeps, report: DriftReport, deep: boolean): Promise<void> {
  const busy = await busyScopes(deps.db);
  for (const stage of STAGES) {
    for (const repo of await liveRepositories(deps.db, deps.config.STORAGE_DIR, stage)) {
      const s = repo.scope;
      const isBusy =
        'product' in s ? busy.products.has(s.product) : busy.platforms.has(`${s.kind}/${s.platform}${s.arch ? `/${s.arch}` : ''}`);
      if (isBusy) {
        report.skipped.push(`${repo.path}: an action on it is running`);
        continue;
      }
      report.checked.repositories++;
      const named = await indexedFiles(repo, report);
      const expected = await expectedFiles(deps.db, s);
      const key = (filename: string, sha: string) => `${filename} ${sha}`;
      const want = new Map(expected.map((e) => [key(e.filename, e.sha256), e]));
      const have = new Map(named.map((n) => [key(basename(n.href), n.sha256), n]));
      for (const [k, e] of want)
        if (!have.has(k))
          report.items.push(item('index-missing', e.ticket, repo.path, `${e.filename} (sha256 ${e.sha256})`, 'not in the live index'));
      const extra = [...have].filter(([k]) => !want.has(k));
      const owners = await ticketsOfContent(
        deps.db,
        extra.map(([, n]) => n.sha256),
      );
      for (const [, n] of extra)
        report.items.push(
          item(
            'index-extra',
            owners.get(n.sha256)?.[0] ?? null,
            repo.path,
            'no release of this stage has it',
            `${basename(n.href)} (sha256 ${n.sha256})`,
          ),
        );
      await pMap(
        named,
        async (n) => {
          report.checked.files++;
          const st = await repo.packageFile(n.href, deep);
          if (!st) return report.items.push(item('file-missing', null, `${repo.archive}/${n.href}`, `${n.size} bytes`, 'no such file'));
          if (st.size !== n.size)
            return report.items.push(item('file-changed', null, `${repo.archive}/${n.href}`, `${n.size} bytes`, `${st.size} bytes`));
          if (deep && st.sha256 !== n.sha256)
            report.items.push(
              item('file-changed', null, `${repo.archive}/${n.href}`, `sha256 ${n.sha256}`, `sha256 ${st.sha256 ?? '(none recorded)'}`),
            );
        },
        { concurrency: 8 },
      );
    }
  }
}

/** The packages a live version's indexes name, after checking each index file against the checksum its repomd.xml or Release gives. */
async function indexedFiles(repo: LiveRepo, report: DriftReport): Promise<NamedPackage[]> {
  const out: NamedPackage[] = [];
  const names = await repo.names();
  // each index file read once: checked against its signed list, then parsed for the packages it names
  const bytesOf = new Map(await Promise.all(names.map(async (n) => [n, await repo.read(n)] as const)));
  const listed = new Map<string, string>(); // index file -> sha256 its signed list gives
  for (const name of names) {
    if (!/(^|\/)(repodata\/repomd\.xml|Release)$/.test(name)) continue;
    const text = bytesOf.get(name)!.toString('utf8');
    const base = name.slice(0, name.lastIndexOf('/') + 1).replace(/repodata\/$/, '');
    for (const m of text.matchAll(/<checksum type="sha256">([0-9a-f]{64})<\/checksum>\s*<location href="([^"]+)"/g))
      listed.set(`${base}${m[2]}`, m[1]!);
    for (const m of text.matchAll(/^ ([0-9a-f]{64}) +\d+ (\S+)$/gm)) listed.set(`${base}${m[2]}`, m[1]!);
  }
  for (const [name, sha] of listed) {
    const bytes = bytesOf.get(name);
    if (!bytes) {
      if (!/\/Packages$|^Packages$/.test(name) || !names.includes(`${name}.gz`))
        report.items.push(item('file-missing', null, `${repo.path}/${name}`, `sha256 ${sha}`, 'no such file'));
      continue;
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha)
      report.items.push(item('file-changed', null, `${repo.path}/${name}`, `sha256 ${sha} (as its signed index says)`, `sha256 ${actual}`));
  }
  for (const [name, bytes] of bytesOf) {
    try {
      out.push(...(await packagesNamedBy(name, bytes)));
    } catch (e) {
      report.items.push(
        item('file-changed', null, `${repo.path}/${name}`, 'an index releasedesk wrote', `unreadable: ${(e as Error).message}`),
      );
    }
  }
  return [...new Map(out.map((n) => [n.href, n])).values()]; // a flat APT repository names each file in Packages and Packages.gz
}

async function compareMirrors(deps: DriftDeps, report: DriftReport): Promise<void> {
  for (const spec of deps.config.MIRROR_TARGETS) {
    try {
      const target = await openTarget(spec, deps.config.STORAGE_DIR);
      let listed: Awaited<ReturnType<typeof target.list>>;
      try {
        listed = await target.list();
      } finally {
        await target.close();
      }
      report.checked.mirrors++;
      const there = new Map(listed.map((l) => [l.path, l]));
      const row = await mirrorTargetRow(deps.db, spec.name);
      const inStep =
        row?.fingerprint ===
        (await viewFingerprint({ db: deps.db, storageDir: deps.config.STORAGE_DIR, stage: 'production', publicUrl: spec.publicUrl }));
      for (const k of await knownObjects(deps.db, spec.name)) {
        const l = there.get(k.path);
        if (!l && inStep)
          report.items.push(item('mirror-missing', null, `${spec.name}:${k.path}`, `sha256 ${k.sha256}`, 'not on the mirror'));
        else if (l && l.tag !== k.tag)
          report.items.push(
            item('mirror-changed', null, `${spec.name}:${k.path}`, `sha256 ${k.sha256} (tag ${k.tag})`, `tag ${l.tag}, ${l.size} bytes`),
          );
      }
    } catch (e) {
      report.skipped.push(`mirror ${spec.name}: ${isRdError(e) ? `${e.code}: ` : ''}${(e as Error).message}`);
    }
  }
}

const item = (kind: DriftKind, ticket: number | null, where: string, expected: string, actual: string): DriftItem => ({
  kind,
  ticket,
  where,
  expected,
  actual,
  repaired: false,
});
