import { Router } from 'express';
import * as api from '../../schemas/api.v1.ts';
import { reply } from './reply.ts';
import { runDriftCheck, lastDriftReport } from '../drift/report.ts';
import type { AppDeps } from './app.ts';
import { requireAdmin, type AuthDeps } from './auth.ts';
import { parsed } from './input.ts';

/** The last drift report (public, like /healthz), and a check now (bearer token; ?deep=1 hashes every file). */
export function driftRouter(deps: AppDeps, authDeps: AuthDeps): Router {
  const r = Router();
  r.get('/drift', async (_req, res) => {
    reply(res, api.driftAnswer, { report: await lastDriftReport(deps.db) }); // null until a check ran
  });
  r.post('/drift/check', requireAdmin(authDeps), async (req, res) => {
    const { deep } = parsed(api.deepQuery, req.query);
    reply(res, api.driftAnswer, {
      report: await runDriftCheck(
        { db: deps.db, config: deps.config, helpdesk: deps.helpdesk, log: deps.log, metrics: deps.metrics },
        { deep: deep === '1' || deep === 'true' },
      ),
    });
  });
  return r;
}
