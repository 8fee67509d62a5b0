import { raw, Router } from 'express';
import { rtWebhookV1, WEBHOOK_MAX_BYTES } from '../../schemas/webhook-rt.v1.ts';
import type { Config } from '../../config/index.ts';
import { RdError } from '../errors.ts';
import { accept, type IntakeDeps } from '../intake.ts';
import type { Metrics } from '../metrics.ts';
import { verifySignature } from './signature.ts';

/** POST /webhooks/rt: verify, validate, persist, answer. The work happens later, in the worker. */
export function webhookRouter(deps: IntakeDeps & { secret: string; metrics: Metrics; config: Pick<Config, 'WEBHOOK_MAX_AGE_MS'> }): Router {
  const router = Router();
  router.post('/webhooks/rt', raw({ type: () => true, limit: WEBHOOK_MAX_BYTES }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      verifySignature(raw, req.get('x-rt-signature'), deps.secret);
      if (!req.is('application/json'))
        throw new RdError('RD_UNSUPPORTED_MEDIA', `Content-Type ${req.get('content-type') ?? '(none)'} is not application/json`);
      const body = parse(raw);
      checkAge(body.created, deps.config.WEBHOOK_MAX_AGE_MS);
      const result = await accept({ ...deps, answerBeforeEnqueue: true }, body, 'webhook');
      deps.metrics.webhooks.inc({ outcome: result.outcome });
      if (result.outcome === 'duplicate') res.status(200).json({ status: 'duplicate' });
      else if (result.outcome === 'ignored') res.status(202).json({ status: 'ignored', why: result.why });
      else res.status(202).json({ status: 'queued', inbox: result.row.id });
    } catch (e) {
      deps.metrics.webhooks.inc({ outcome: e instanceof RdError ? e.code : 'error' });
      throw e;
    }
  });
  return router;
}

/**
 * The signature proves who wrote a body, not when it was sent: a body seen once could be sent again. RT posts
 * while it records the change, so a transaction time far from now is a replay (or a delivery held up for
 * long); nothing is lost by refusing it, since the reconciler reads the changes RT really has.
 */
function checkAge(created: string, maxAgeMs: number) {
  const off = Date.now() - Date.parse(created);
  if (maxAgeMs === 0 || Math.abs(off) <= maxAgeMs) return;
  const by = `${Math.round(Math.abs(off) / 1000)} s ${off > 0 ? 'ago' : "ahead of this server's clock"}`;
  throw new RdError('RD_WEBHOOK_STALE', `created: ${created} is ${by}; deliveries are taken within ${Math.round(maxAgeMs / 1000)} s`, {
    field: 'created',
  });
}

function parse(raw: Buffer) {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new RdError('RD_PAYLOAD_INVALID', `body is not JSON: ${(e as Error).message}`);
  }
  const parsed = rtWebhookV1.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(body)';
    throw new RdError('RD_PAYLOAD_INVALID', `${field}: ${issue.message}`, { field });
  }
  return parsed.data;
}
