import { stat } from 'node:fs/promises';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { pendingCount } from '../db/outbox.ts';
import type { Db } from '../db/knex.ts';
import { packageList } from '../db/packages.ts';
import { boardReleases, releaseOfTicket, type ReleaseRow } from '../db/releases.ts';
import { clocks } from '../db/sla.ts';
import { historyOf, lastTransitions } from '../db/transitions.ts';
import { lastDriftReport } from '../drift/report.ts';
import { RdError } from '../errors.ts';
import { evidencePath } from '../evidence/files.ts';
import { mirrorStatuses } from '../mirror/status.ts';
import { callerOf, type SessionData } from '../api/auth.ts';
import { clientFileName } from '../storage/repo-url.ts';
import { REPO_STATUSES, slaState, type RepoStatus } from '../workflow/transitions.ts';
import { html, type Html } from './html.ts';
import { page, time, type PageUser } from './layout.ts';

export interface BoardDeps {
  db: Db;
  config: Pick<Config, 'PUBLIC_READS' | 'SLA_DEADLINES' | 'RT_URL' | 'STORAGE_DIR' | 'MIRROR_TARGETS'>;
  /** the same checks /healthz runs */
  health: Record<string, () => Promise<void>>;
}

/** The board's columns: where releases wait, in the order they move. */
const COLUMNS: RepoStatus[] = ['Processing', 'Unverified', 'StageRollOut', 'Production', 'Incomplete', 'Failed', 'Rejected', 'Deprecated'];

const filters = z.object({
  status: z.enum(REPO_STATUSES).optional().catch(undefined),
  product: z.string().trim().max(200).optional().catch(undefined),
  platform: z.string().trim().max(100).optional().catch(undefined),
  q: z.string().trim().max(200).optional().catch(undefined),
});

const DAY = 86_400_000;
const age = (since: Date, now: Date) => {
  const ms = now.getTime() - since.getTime();
  return ms >= DAY ? `${Math.floor(ms / DAY)} d` : `${Math.max(0, Math.floor(ms / 3_600_000))} h`;
};

/**
 * The console's pages for reading: the board of releases by stage, a release's page and the health page.
 * Readable without JavaScript; signed in unless PUBLIC_READS (the same rule as the API's views). The console
 * changes no RepoAction: it links to the ticket, which is the truth.
 */
export function boardRouter(deps: BoardDeps): Router {
  const r = Router();
  const viewer = (req: Request, res: Response): PageUser | null | 'sign-in' => {
    const c = callerOf(res);
    if (c?.kind === 'user' && c.via === 'session') return { name: c.name, csrf: (req.session as SessionData).csrf ?? '' };
    return deps.config.PUBLIC_READS ? null : 'sign-in';
  };
  const gate = (req: Request, res: Response) => {
    const v = viewer(req, res);
    if (v === 'sign-in') res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    return v === 'sign-in' ? undefined : { user: v };
  };

  r.get('/', async (req, res) => {
    const g = gate(req, res);
    if (!g) return;
    const f = filters.parse(req.query);
    const rows = await boardReleases(deps.db, {
      ...f,
      product: f.product || undefined,
      platform: f.platform || undefined,
      q: f.q || undefined,
      limit: 500,
    });
    res.type('html').send(page('Releases', g.user, await board(deps, rows, f)).text);
  });

  r.get('/ui/releases/:ticket', async (req, res) => {
    const g = gate(req, res);
    if (!g) return;
    const ticket = Number(req.params.ticket);
    const rel = Number.isInteger(ticket) && ticket > 0 ? await releaseOfTicket(deps.db, ticket) : undefined;
    if (!rel) throw new RdError('RD_NOT_FOUND', `no release for ticket ${req.params.ticket}`);
    res
      .type('html')
      .send(
        page(
          `Ticket ${rel.ticket_id}: ${rel.product_name ?? rel.product_short_name ?? 'release'} ${rel.version ?? ''}`,
          g.user,
          await releasePage(deps, rel),
        ).text,
      );
  });

  r.get('/ui/health', async (req, res) => {
    const g = gate(req, res);
    if (!g) return;
    res.type('html').send(page('Health', g.user, await healthPage(deps)).text);
  });
  return r;
}

async function board(deps: BoardDeps, rows: ReleaseRow[], f: z.infer<typeof filters>): Promise<Html> {
  const now = new Date();
  const tickets = rows.map((x) => x.ticket_id);
  const statuses = REPO_STATUSES.filter((s) => deps.config.SLA_DEADLINES[s] !== undefined);
  const [last, clock] = await Promise.all([lastTransitions(deps.db, tickets), clocks(deps.db, statuses, tickets)]);
  const clockOf = new Map(clock.map((c) => [c.ticketId, c]));
  const shown = f.status ? [f.status] : COLUMNS;
  return html`<form method="get" action="/" class="filters" role="search">
  <label for="q">Ticket or package name</label><input type="text" id="q" name="q" value="${f.q ?? ''}">
  <label for="product">Product</label><input type="text" id="product" name="product" value="${f.product ?? ''}">
  <label for="platform">Platform</label><input type="text" id="platform" name="platform" value="${f.platform ?? ''}">
  <label for="status">Status</label>
  <select id="status" name="status"><option value="">every status</option>${REPO_STATUSES.filter((s) => s !== 'New').map(
    (s) => html`<option value="${s}"${f.status === s ? html` selected` : ''}>${s}</option>`,
  )}</select>
  <p><button type="submit">Show</button> <a href="/">Clear</a> · <a href="/ui/health">Health</a></p>
</form>
${shown.map((status) => {
  const inIt = rows.filter((x) => x.status === status);
  return html`<section aria-labelledby="col-${status}">
<h2 id="col-${status}">${status} <span class="count">(${inIt.length})</span></h2>
${
  inIt.length
    ? html`<table><caption class="skip">Releases in ${status}</caption>
<thead><tr><th scope="col">Ticket</th><th scope="col">Product</th><th scope="col">Version</th><th scope="col">Revision</th><th scope="col">Platform / arch</th><th scope="col">Asked by</th><th scope="col">In ${status}</th><th scope="col">SLA</th></tr></thead>
<tbody>${inIt.map((x) => {
        const c = clockOf.get(x.ticket_id);
        const sla = c ? slaState(c.status, c.enteredAt, deps.config.SLA_DEADLINES, now) : undefined;
        const t = last.get(x.ticket_id);
        return html`<tr${sla?.overdue ? html` class="overdue"` : ''}>
<td><a href="/ui/releases/${x.ticket_id}">${x.ticket_id}</a></td><td>${x.product_short_name}</td><td>${x.version}</td>
<td>${x.revision ? `v${x.revision}` : '-'}</td><td>${x.platform} / ${x.arch}</td><td>${t ? `${t.actor} (${t.action})` : '-'}</td>
<td>${age(c?.enteredAt ?? new Date(x.updated_at), now)}</td>
<td>${sla ? (sla.overdue ? html`<strong>overdue</strong> since ${time(sla.deadlineAt)}` : html`due ${time(sla.deadlineAt)}`) : '-'}</td></tr>`;
      })}</tbody></table>`
    : html`<p>None.</p>`
}
</section>`;
})}`;
}

async function releasePage(deps: BoardDeps, rel: ReleaseRow): Promise<Html> {
  const [history, packages] = await Promise.all([historyOf(deps.db, rel.ticket_id), packageList(deps.db, rel.id)]);
  const evidence = rel.revision && (await stat(evidencePath(deps.config.STORAGE_DIR, rel.ticket_id, rel.revision)).catch(() => null));
  const tomb = rel.tombstone as Record<string, unknown> | null;
  return html`<p>RepoStatus <strong>${rel.status}</strong>${rel.revision ? html`, revision <strong>v${rel.revision}</strong>` : ''}.
<a href="${deps.config.RT_URL}/Ticket/Display.html?id=${rel.ticket_id}">Open the RT ticket</a> to act on it: RepoAction is set there.</p>
${
  rel.repo_uri && rel.product_short_name && rel.repo_kind
    ? html`<p>Repository: <code>${rel.repo_uri}</code>; its client file, for dnf or apt: <a href="${rel.repo_uri}${clientFileName({ stage: 'unverified', product: rel.product_short_name, kind: rel.repo_kind })}">${clientFileName({ stage: 'unverified', product: rel.product_short_name, kind: rel.repo_kind })}</a></p>`
    : ''
}
${evidence ? html`<p>Evidence receipt: <a href="/releases/${rel.ticket_id}/evidence">in-toto statement</a> and its <a href="/releases/${rel.ticket_id}/evidence.asc">signature</a>.</p>` : ''}
${tomb ? html`<h2>Tombstone</h2><pre>${JSON.stringify(tomb, null, 2)}</pre>` : ''}
<h2>Timeline</h2>
<table><caption class="skip">Every transition</caption>
<thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Outcome</th><th scope="col">Code</th><th scope="col">Reason</th><th scope="col">Took</th></tr></thead>
<tbody>${history.map(
    (t) => html`<tr><td>${time(t.started_at)}</td><td>${t.actor}</td><td>${t.action}</td><td>${t.from_status}</td><td>${t.to_status}</td>
<td>${t.outcome}</td><td>${t.code ?? ''}</td><td>${t.reason ?? ''}</td><td>${t.duration_ms === null ? '' : `${(t.duration_ms / 1000).toFixed(1)} s`}</td></tr>`,
  )}</tbody></table>
<h2>Packages</h2>
<table><caption class="skip">Packages with their digests and sizes</caption>
<thead><tr><th scope="col">File</th><th scope="col">SHA-256</th><th scope="col">Size (bytes)</th></tr></thead>
<tbody>${packages.map((p) => html`<tr><td>${String(p.filename)}</td><td><code>${String(p.sha256)}</code></td><td>${String(p.size)}</td></tr>`)}</tbody></table>
<p><a href="/releases/${rel.ticket_id}/history">History as JSON</a> · <a href="/">Back to the board</a></p>`;
}

async function healthPage(deps: BoardDeps): Promise<Html> {
  const checks = await Promise.all(
    Object.entries(deps.health).map(async ([name, check]) =>
      check().then(
        () => [name, 'ok'] as const,
        (e: Error) => [name, `down: ${e.message}`] as const,
      ),
    ),
  );
  const [pending, mirrors, drift, failures] = await Promise.all([
    pendingCount(deps.db),
    mirrorStatuses(deps.db, deps.config.STORAGE_DIR, deps.config.MIRROR_TARGETS).catch(() => []),
    lastDriftReport(deps.db).catch(() => null),
    deps
      .db('transitions')
      .where('outcome', 'failed')
      .orderBy('id', 'desc')
      .limit(10)
      .select('ticket_id', 'action', 'code', 'reason', 'finished_at'),
  ]);
  return html`<h2>Services</h2>
<table><thead><tr><th scope="col">Part</th><th scope="col">State</th></tr></thead>
<tbody>${checks.map(([n, s]) => html`<tr><td>${n}</td><td>${s}</td></tr>`)}</tbody></table>
<p>Write-backs to RT not yet delivered: ${pending}.</p>
${
  mirrors.length
    ? html`<h2>Mirrors</h2><table><thead><tr><th scope="col">Mirror</th><th scope="col">State</th><th scope="col">Last good sync</th><th scope="col">Last error</th></tr></thead>
<tbody>${mirrors.map((m) => html`<tr><td>${m.name}</td><td>${m.state}</td><td>${time(m.last_success_at)}</td><td>${m.last_error_code ?? ''}</td></tr>`)}</tbody></table>`
    : ''
}
<h2>Drift</h2>
<p>${drift ? html`Last check ${time(drift.checked_at)}: ${drift.items.length} difference(s).` : 'No drift check has run yet.'}</p>
<h2>Last failures</h2>
${
  failures.length
    ? html`<table><thead><tr><th scope="col">Ticket</th><th scope="col">Action</th><th scope="col">Code</th><th scope="col">When</th></tr></thead>
<tbody>${failures.map((x) => html`<tr><td><a href="/ui/releases/${x.ticket_id}">${x.ticket_id}</a></td><td>${x.action}</td><td>${x.code ?? ''}</td><td>${time(x.finished_at)}</td></tr>`)}</tbody></table>`
    : html`<p>None.</p>`
}`;
}
