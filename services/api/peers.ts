import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { checkRequirements, describeCheck } from '../deps/check.ts';
import type { Db } from '../db/knex.ts';
import { releaseOfTicket } from '../db/releases.ts';
import { RdError } from '../errors.ts';
import { peerStatusComment } from '../helpdesk/comments.ts';
import { enqueueWriteBack } from '../helpdesk/outbox.ts';
import { PROMOTION_TARGETS, REPORTED_TO_SOURCE, REPO_STATUSES } from '../workflow/transitions.ts';
import { requireBearer, type Caller } from './auth.ts';
import { parsed } from './input.ts';

const statusBody = z.object({
  desk: z.string().max(64),
  url: z.string().max(2000),
  sourceTicket: z.number().int().positive(),
  ticket: z.number().int().positive(),
  status: z.enum(REPO_STATUSES),
  marker: z.string().min(1).max(200),
});

const capability = z.string().max(4096);
const validateBody = z.object({
  kind: z.enum(['yum', 'apt']),
  platform: z.string().min(1).max(200),
  arch: z.string().min(1).max(200),
  target: z.enum(PROMOTION_TARGETS),
  packages: z
    .array(
      z.object({
        filename: z.string().min(1).max(255),
        requires: z.array(capability).max(10_000),
        provides: z.array(capability).max(10_000),
      }),
    )
    .min(1)
    .max(10_000),
});

/** What other desks (PEERS) may ask of this one: the status of a release they imported from here, and a dependency check. */
export function peersRouter(db: Db, config: Config): Router {
  const r = Router();
  const peerOnly = requireBearer('peer');

  r.post('/peer/status', peerOnly, async (req, res) => {
    const caller = res.locals.caller as Extract<Caller, { kind: 'peer' }>;
    const b = parsed(statusBody, req.body);
    const word = REPORTED_TO_SOURCE[b.status];
    if (!word) throw new RdError('RD_PAYLOAD_INVALID', `status: ${b.status} is not reported between desks`, { field: 'status' });
    if (!(await releaseOfTicket(db, b.sourceTicket))) throw new RdError('RD_NOT_FOUND', `no release for ticket ${b.sourceTicket} here`);
    const text = peerStatusComment({ desk: caller.name, url: b.url, ticket: b.ticket, status: b.status, word });
    // the peer's marker is unique per action there: a delivery repeated after a lost answer is one comment
    await enqueueWriteBack(db, b.sourceTicket, `peer:${caller.name}:${b.marker}`, { kind: 'comment', text });
    res.status(202).json({ status: 'queued', ticket: b.sourceTicket });
  });

  // the same check `validate` runs here for a release of this desk, for packages another desk describes
  r.post('/peer/validate', peerOnly, async (req, res) => {
    const b = parsed(validateBody, req.body);
    const own = b.packages.map((p) => ({ filename: p.filename, header: { requires: p.requires, provides: p.provides } }));
    const check = await checkRequirements(db, { kind: b.kind, platform: b.platform, arch: b.arch }, b.target, own, config);
    res.json({ desk: config.DESK_NAME, ...check, summary: describeCheck(check) });
  });
  return r;
}
