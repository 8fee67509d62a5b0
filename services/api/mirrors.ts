import { Router } from 'express';
import * as api from '../../schemas/api.v1.ts';
import { reply } from './reply.ts';
import type { Config } from '../../config/index.ts';
import type { Db } from '../db/knex.ts';
import { requestSync } from '../db/mirrors.ts';
import { RdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { mirrorStatuses } from '../mirror/status.ts';
import { syncTarget } from '../mirror/sync.ts';
import type { TargetSpec } from '../mirror/target.ts';
import { requireAdmin, type AuthDeps } from './auth.ts';
import { parsed } from './input.ts';

/**
 * The mirrors of Production: their state (public, like /healthz), the plan of a sync (a dry run: lists each
 * target, changes nothing), and a request to sync now (the worker's mirror loop runs it within MIRROR_CHECK_MS).
 */
export function mirrorsRouter(db: Db, config: Config, log: Logger, authDeps: AuthDeps): Router {
  const r = Router();
  const auth = requireAdmin(authDeps);
  const chosen = (raw: unknown): TargetSpec[] => {
    const { target } = parsed(api.targetQuery, raw);
    if (!config.MIRROR_TARGETS.length) throw new RdError('RD_NOT_FOUND', 'no mirror is configured (MIRROR_TARGETS is empty)');
    if (target === undefined) return config.MIRROR_TARGETS;
    const t = config.MIRROR_TARGETS.find((m) => m.name === target);
    if (!t)
      throw new RdError(
        'RD_NOT_FOUND',
        `no mirror named ${JSON.stringify(target)}; configured: ${config.MIRROR_TARGETS.map((m) => m.name).join(', ')}`,
      );
    return [t];
  };

  r.get('/mirrors', async (_req, res) => {
    reply(res, api.mirrorList, { mirrors: await mirrorStatuses(db, config.STORAGE_DIR, config.MIRROR_TARGETS) });
  });

  r.get('/mirrors/plan', auth, async (req, res) => {
    const plans = [];
    for (const t of chosen(req.query)) {
      try {
        plans.push(await syncTarget(t, { db, log, storageDir: config.STORAGE_DIR }, { dryRun: true }));
      } catch (e) {
        if (!(e instanceof RdError)) throw e;
        plans.push({ target: t.name, error: { code: e.code, message: e.message } });
      }
    }
    reply(res, api.syncPlans, { plans });
  });

  r.post('/mirrors/sync', auth, async (req, res) => {
    const targets = chosen(req.query);
    const at = await requestSync(
      db,
      targets.map((t) => t.name),
    );
    reply(
      res,
      api.syncRequested,
      { requested: targets.map((t) => t.name), requested_at: at.toISOString(), within_ms: config.MIRROR_CHECK_MS },
      202,
    );
  });
  return r;
}
