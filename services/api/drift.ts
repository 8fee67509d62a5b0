import { Router } from 'express';
import { z } from 'zod';
import { runDriftCheck, lastDriftReport } from '../drift/report.ts';
import type { AppDeps } from './app.ts';
import { requireAdmin, type AuthDeps } from './auth.ts';
import { parsed } from './input.ts';

const checkQuery = z.object({ deep: z.enum(['0', '1', 'true', 'false']).optional() });

/** The last drift report (public, like /healthz), and a check now (bearer token; ?deep=1 hashes every file). */
export function driftRouter(deps: AppDeps, authDeps: AuthDeps): Router {
  const r = Router();
  r.get('/drift', async (_req, res) => {
    res.json({ report: await lastDriftReport(deps.db) }); // null until a check ran
  });
  r.post('/drift/check', requireAdmin(authDeps), async (req, res) => {
    const { deep } = parsed(checkQuery, req.query);
    res.json({
      report: await runDriftCheck(
        { db: deps.db, config: deps.config, helpdesk: deps.helpdesk, log: deps.log, metrics: deps.metrics },
        { deep: deep === '1' || deep === 'true' },
      ),
    });
  });
  return r;
}
