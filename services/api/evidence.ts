import { stat } from 'node:fs/promises';
import { Router } from 'express';
import type { Db } from '../db/knex.ts';
import { releaseOfTicket } from '../db/releases.ts';
import { RdError } from '../errors.ts';
import { evidencePath } from '../evidence/files.ts';
import { ticketOf } from './input.ts';

/** The evidence receipt of a release's Production revision, and its detached signature (`.asc`). */
export function evidenceRouter(db: Db, storageDir: string): Router {
  const r = Router();
  const find = async (raw: string, suffix: '' | '.asc') => {
    const ticket = ticketOf(raw);
    const rel = await releaseOfTicket(db, ticket);
    if (!rel) throw new RdError('RD_NOT_FOUND', `no release for ticket ${ticket}`);
    const file = rel.revision ? `${evidencePath(storageDir, ticket, rel.revision)}${suffix}` : null;
    if (!file || !(await stat(file).catch(() => null)))
      throw new RdError(
        'RD_NOT_FOUND',
        `ticket ${ticket} (${rel.status}) has no evidence receipt: one is made when a release reaches Production`,
      );
    return file;
  };
  r.get('/releases/:ticket/evidence', async (req, res) => {
    res.type('application/vnd.in-toto+json').sendFile(await find(String(req.params.ticket), ''));
  });
  r.get('/releases/:ticket/evidence.asc', async (req, res) => {
    res.type('application/pgp-signature').sendFile(await find(String(req.params.ticket), '.asc'));
  });
  return r;
}
