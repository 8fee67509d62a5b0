import { stat } from 'node:fs/promises';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { pendingCount } from '../db/outbox.ts';
import type { Db } from '../db/knex.ts';
import type { ActionQueue } from '../queue.ts';
import { checkDependencies, describeCheck, type DepsConfig } from '../deps/check.ts';
import { hasPackages } from '../db/packages.ts';
import { distClientFileUrl, distLabel } from '../storage/dist-url.ts';
import { isRdError } from '../errors.ts';
import { packageList } from '../db/packages.ts';
import { boardReleases, productReleases, releaseOfTicket, type ReleaseRow } from '../db/releases.ts';
import { clocks } from '../db/sla.ts';
import { historyOf, lastTransitions } from '../db/transitions.ts';
import { lastDriftReport } from '../drift/report.ts';
import { RdError } from '../errors.ts';
import { evidencePath } from '../evidence/files.ts';
import { mirrorStatuses } from '../mirror/status.ts';
import { callerOf, type SessionData } from '../api/auth.ts';
import { clientFileName } from '../storage/repo-url.ts';
import { REPO_STATUSES, slaState, STAGE_OF_STATUS, type RepoStatus } from '../workflow/transitions.ts';
import { html, type Html } from './html.ts';
import { page, time, type PageUser } from './layout.ts';

export interface BoardDeps {
  db: Db;
  /** where a running action's progress is (BullMQ job progress) */
  queue: Pick<ActionQueue, 'queue'>;
  config: Pick<Config, 'PUBLIC_READS' | 'SLA_DEADLINES' | 'RT_URL' | 'STORAGE_DIR' | 'MIRROR_TARGETS' | 'PUBLIC_URL'> & DepsConfig;
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
    return deps.config.PUBLIC_READS || c ? null : 'sign-in'; // a token reads too (scripts, the contract test)
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

  r.get('/ui/releases/:ticket/progress', async (req, res) => {
    const g = gate(req, res);
    if (!g) return;
    res.type('html').send((await progressOf(deps, Number(req.params.ticket))).text);
  });

  r.get('/ui/products/:product', async (req, res) => {
    const g = gate(req, res);
    if (!g) return;
    const rows = await productReleases(deps.db, String(req.params.product));
    if (!rows.length) throw new RdError('RD_NOT_FOUND', `no release of product ${req.params.product}`);
    res.type('html').send(page(`Product ${req.params.product}`, g.user, productPage(rows)).text);
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
<td><a href="/ui/releases/${x.ticket_id}">${x.ticket_id}</a></td><td>${x.product_short_name ? html`<a href="/ui/products/${encodeURIComponent(x.product_short_name)}">${x.product_short_name}</a>` : '-'}</td><td>${x.version}</td>
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
  const running = rel.active_inbox_id !== null;
  return html`${running ? html`${await progressOf(deps, rel.ticket_id)}<script src="/console/assets/htmx.min.js" defer></script>` : ''}
<p>RepoStatus <strong>${rel.status}</strong>${rel.revision ? html`, revision <strong>v${rel.revision}</strong>` : ''}.
<a href="${deps.config.RT_URL}/Ticket/Display.html?id=${rel.ticket_id}">Open the RT ticket</a> to act on it: RepoAction is set there.</p>
${rel.product_short_name ? html`<p>Product: <a href="/ui/products/${encodeURIComponent(rel.product_short_name)}">${rel.product_short_name}</a> (every revision)</p>` : ''}
${
  rel.repo_uri && rel.product_short_name && rel.repo_kind
    ? html`<p>Repository: <code>${rel.repo_uri}</code>; its client file, for dnf or apt: <a href="${rel.repo_uri}${clientFileName({ stage: 'unverified', product: rel.product_short_name, kind: rel.repo_kind })}">${clientFileName({ stage: 'unverified', product: rel.product_short_name, kind: rel.repo_kind })}</a></p>`
    : ''
}
${await distributionOf(deps, rel)}
${await nextCheck(deps, rel)}
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
  const [pending, jobs, mirrors, drift, failures] = await Promise.all([
    pendingCount(deps.db),
    deps.queue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => null),
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
<p>Action queue: ${jobs ? `${jobs.waiting} waiting, ${jobs.active} running, ${jobs.delayed} waiting to retry, ${jobs.failed} given up` : 'Redis did not answer'}.</p>
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

/**
 * A running action's progress, as the worker publishes it (download bytes): polled every second by htmx while
 * the action runs; the page without JavaScript shows it as it was when loaded.
 */
async function progressOf(deps: BoardDeps, ticket: number): Promise<Html> {
  const active = (await deps.queue.queue.getActive()).find((j) => (j.data as { ticketId?: number }).ticketId === ticket);
  if (!active)
    return html`<div id="progress" role="status"><p>No action is running on this ticket now. <a href="/ui/releases/${ticket}">Reload</a> for its outcome.</p></div>`;
  const p = (typeof active.progress === 'object' ? active.progress : {}) as { step?: string; bytes?: number; total?: number; url?: string };
  const mib = (n: number) => (n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);
  const what =
    p.step === 'download' && p.bytes !== undefined
      ? `downloading ${p.url ? p.url.slice(p.url.lastIndexOf('/') + 1) : ''}: ${mib(p.bytes)}${p.total ? ` of ${mib(p.total)}` : ''}`
      : p.step
        ? `${p.step}`
        : 'started';
  return html`<div id="progress" role="status" aria-live="polite" hx-get="/ui/releases/${ticket}/progress" hx-trigger="every 1s" hx-swap="outerHTML">
<p>An action is running: <span class="progress-text">${what}</span></p></div>`;
}

/** Every revision of a product: which is in Production, the tombstones, what a Deprecate fell back to. */
function productPage(rows: ReleaseRow[]): Html {
  return html`<table><caption class="skip">Releases of this product, newest revision first</caption>
<thead><tr><th scope="col">Revision</th><th scope="col">Ticket</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Deprecated</th><th scope="col">Falls back to</th></tr></thead>
<tbody>${rows.map((x) => {
    const tomb = x.tombstone as { fallback?: number | null; by?: string; reason?: string; purged?: unknown } | null;
    return html`<tr${x.status === 'Production' ? html` class="live"` : ''}><td>${x.revision ? `v${x.revision}` : '-'}</td>
<td><a href="/ui/releases/${x.ticket_id}">${x.ticket_id}</a></td><td>${x.version}</td><td>${x.status}${x.status === 'Production' ? ' (live)' : ''}${tomb?.purged ? ', purged' : ''}</td>
<td>${x.deprecated_at ? html`${time(x.deprecated_at)}${tomb?.by ? ` by ${tomb.by}` : ''}${tomb?.reason ? `: ${tomb.reason}` : ''}` : ''}</td>
<td>${tomb && 'fallback' in tomb ? (tomb.fallback ? `v${tomb.fallback}` : 'nothing') : ''}</td></tr>`;
  })}</tbody></table>
<p><a href="/">Back to the board</a></p>`;
}

/** The distribution of the stage the release is shown in now (every product of its platform), and its client file. */
async function distributionOf(deps: BoardDeps, rel: ReleaseRow): Promise<Html | string> {
  const stage = STAGE_OF_STATUS[rel.status];
  if (!stage || !rel.repo_kind || !rel.platform || !rel.arch) return '';
  const d = { stage, kind: rel.repo_kind, platform: rel.platform, arch: rel.arch };
  return html`<p>Distribution (every product of this stage and platform): <code>${distLabel(deps.config.PUBLIC_URL, d)}</code>; client file: <a href="${distClientFileUrl(deps.config.PUBLIC_URL, d)}">${distClientFileUrl(deps.config.PUBLIC_URL, d).replace(/^.*\//, '')}</a></p>`;
}

/** The dependency check of the stage the release would enter next, run now (as `releasedesk validate`). */
async function nextCheck(deps: BoardDeps, rel: ReleaseRow): Promise<Html | string> {
  const next = rel.status === 'Unverified' ? 'stage-rollout' : rel.status === 'StageRollOut' ? 'production' : undefined;
  if (!next || !(await hasPackages(deps.db, rel.id))) return '';
  try {
    const c = await checkDependencies(deps.db, rel.id, next, deps.config);
    return html`<h2>Dependencies for ${next}</h2><pre>${describeCheck(c)}</pre>`;
  } catch (e) {
    if (!isRdError(e)) throw e;
    return html`<h2>Dependencies for ${next}</h2><p class="error">[${e.code}] ${e.message}</p>`;
  }
}
