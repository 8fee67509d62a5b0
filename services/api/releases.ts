import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/knex.ts';
import { getInbox, insertRetry, markEnqueued } from '../db/inbox.ts';
import { hasPackages, headersOf, packageList } from '../db/packages.ts';
import { listReleases, releaseOfTicket, type ReleaseRow } from '../db/releases.ts';
import { historyOf, lastRun, transitionView } from '../db/transitions.ts';
import type { ActionQueue } from '../queue.ts';
import { RdError } from '../errors.ts';
import { PROMOTION_TARGETS, REPO_STATUSES, slaState, transitions } from '../workflow/transitions.ts';
import { callerOf, mayAct, type AuthDeps } from './auth.ts';
import * as api from '../../schemas/api.v1.ts';
import { reply } from './reply.ts';
import { clocks } from '../db/sla.ts';
import type { Config } from '../../config/index.ts';
import { checkDependencies, describeCheck } from '../deps/check.ts';
import { parsed, ticketOf } from './input.ts';
import { PeerClient } from '../bundles/peer-client.ts';
import type { PackageHeader } from '../storage/package-header.ts';

const validateQuery = z.object({ target: z.enum(PROMOTION_TARGETS), remote: z.string().max(2000).optional() });

const summary = (r: ReleaseRow) => ({
  ticket: r.ticket_id,
  product: r.product_short_name,
  name: r.product_name,
  version: r.version,
  revision: r.revision,
  platform: r.platform,
  arch: r.arch,
  kind: r.repo_kind,
  status: r.status,
  requestedAction: r.requested_action,
  repoUri: r.repo_uri || null,
  updatedAt: r.updated_at,
});

/** Read-only views of releases for people and the CLI; the truth stays in the database rows. */
export function releasesRouter(db: Db, queue: ActionQueue, config: Config, auth: AuthDeps): Router {
  const r = Router();
  // each with its SLA clock where its status has a deadline (SLA_DEADLINES): when it is due, and whether overdue
  const withSla = async (rows: ReleaseRow[]) => {
    const statuses = REPO_STATUSES.filter((st) => config.SLA_DEADLINES[st] !== undefined);
    const byTicket = new Map(
      (
        await clocks(
          db,
          statuses,
          rows.map((x) => x.ticket_id),
        )
      ).map((c) => [c.ticketId, c]),
    );
    const now = new Date();
    return rows.map((x) => {
      const c = byTicket.get(x.ticket_id);
      return { ...summary(x), sla: c ? (slaState(c.status, c.enteredAt, config.SLA_DEADLINES, now) ?? null) : null };
    });
  };

  r.get('/releases', async (req, res) => {
    const q = parsed(api.listQuery, req.query);
    const rows = await withSla(await listReleases(db, q));
    reply(res, api.releaseList, { releases: q.overdue ? rows.filter((x) => x.sla?.overdue) : rows });
  });

  r.get('/releases/:ticket', async (req, res) => {
    const ticket = ticketOf(req.params.ticket);
    const rel = await releaseOfTicket(db, ticket);
    if (!rel) throw new RdError('RD_NOT_FOUND', `no release for ticket ${ticket}`);
    const packages = await packageList(db, rel.id);
    const [withClock] = await withSla([rel]);
    reply(res, api.releaseDetail, {
      ...withClock,
      xmlSha256: rel.xml_sha256,
      deprecatedAt: rel.deprecated_at,
      tombstone: rel.tombstone,
      packages,
    });
  });

  r.get('/releases/:ticket/history', async (req, res) => {
    const ticket = ticketOf(req.params.ticket);
    const rows = await historyOf(db, ticket);
    if (!rows.length && !(await releaseOfTicket(db, ticket))) throw new RdError('RD_NOT_FOUND', `no release for ticket ${ticket}`);
    reply(res, api.history, { ticket, transitions: rows.map(transitionView) });
  });
  // The dependency check a promotion would run now, without moving anything.
  r.get('/releases/:ticket/validate', async (req, res) => {
    const ticket = ticketOf(req.params.ticket);
    const q = validateQuery.safeParse(req.query);
    if (!q.success) {
      const field = String(q.error.issues[0]!.path[0]);
      throw new RdError(
        'RD_PAYLOAD_INVALID',
        field === 'target' ? `target: must be ${PROMOTION_TARGETS.join(' or ')}` : `${field}: invalid`,
        {
          field,
        },
      );
    }
    const rel = await releaseOfTicket(db, ticket);
    if (!rel) throw new RdError('RD_NOT_FOUND', `no release for ticket ${ticket}`);
    if (!(await hasPackages(db, rel.id))) {
      throw new RdError(
        'RD_ACTION_NOT_ALLOWED',
        `ticket ${ticket} has no verified packages yet (RepoStatus ${rel.status}): MoveToUnverified first`,
      );
    }
    if (q.data.remote) {
      // another desk judges, by the same check, what this release would bring into its target
      const peers = new PeerClient(config);
      const peer = peers.peer(q.data.remote);
      const packages = (await headersOf<PackageHeader>(db, rel.id)).map((p) => ({
        filename: p.filename,
        requires: p.header?.requires ?? [],
        provides: p.header?.provides ?? [],
      }));
      const body = { kind: rel.repo_kind!, platform: rel.platform!, arch: rel.arch!, target: q.data.target, packages };
      const answer = await peers.validate(peer.name, body);
      reply(res, api.validation, { ticket, status: rel.status, remote: peer.name, ...answer });
      return;
    }
    const check = await checkDependencies(db, rel.id, q.data.target, config);
    reply(res, api.validation, { ticket, status: rel.status, ...check, summary: describeCheck(check) });
  });

  // Re-runs the action whose last attempt failed, as the same RT transaction; the workflow decides again.
  r.post('/releases/:ticket/retry', async (req, res) => {
    const ticket = ticketOf(req.params.ticket);
    const last = await lastRun(db, ticket);
    if (!last) throw new RdError('RD_NOT_FOUND', `no action has run for ticket ${ticket}`);
    if (last.outcome !== 'failed') {
      throw new RdError(
        'RD_ACTION_NOT_ALLOWED',
        `the last action of ticket ${ticket} (${last.action}) is ${last.outcome}, not failed: nothing to retry`,
      );
    }
    // the role that may run the failed action may retry it (an operator's token and admins too)
    const caller = callerOf(res);
    if (!caller) throw new RdError('RD_SIGNIN_REQUIRED', `retrying ticket ${ticket}'s ${last.action} needs a signed-in user or a token`);
    const allowed = transitions[last.action].roles;
    if (!(await mayAct(auth, caller, allowed, ticket))) {
      const who = caller.kind === 'user' ? caller.name : caller.kind === 'peer' ? `desk ${caller.name}` : 'this token';
      throw new RdError('RD_ROLE_FORBIDDEN', `${who} may not retry ${last.action} on ticket ${ticket}; allowed: ${allowed.join(', ')}`, {
        allowedRoles: allowed,
      });
    }
    const of = await getInbox(db, last.inbox_id);
    const row = await insertRetry(db, of!);
    await queue.enqueue(row);
    await markEnqueued(db, row.id);
    reply(res, api.retryAnswer, { status: 'queued', ticket, action: last.action, inbox: row.id, retryOf: of!.id }, 202);
  });
  return r;
}
