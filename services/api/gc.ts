import { Router } from 'express';
import * as api from '../../schemas/api.v1.ts';
import { reply } from './reply.ts';
import type { Config } from '../../config/index.ts';
import type { Db } from '../db/knex.ts';
import { lockKeys, withLocks } from '../db/locks.ts';
import type { Logger } from '../log.ts';
import { gcPlan, runGc } from '../retention/gc.ts';
import { requireAdmin, type AuthDeps } from './auth.ts';

/** Retention: what a purge would delete now (a dry run), and a purge now, under the worker loop's lock; admins only. */
export function gcRouter(db: Db, config: Config, log: Logger, authDeps: AuthDeps): Router {
  const r = Router();
  const auth = requireAdmin(authDeps);
  r.get('/gc/plan', auth, async (_req, res) => {
    reply(res, api.gcPlan, (await gcPlan({ db, log, config })).plan);
  });
  r.post('/gc', auth, async (_req, res) => {
    reply(res, api.gcPlan, await withLocks(db, [lockKeys.loop('gc')], () => runGc({ db, log, config }), 60_000));
  });
  return r;
}
