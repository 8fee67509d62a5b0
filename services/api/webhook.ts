import express, { Router } from 'express';
import { rtWebhookV1, WEBHOOK_MAX_BYTES } from '../../schemas/webhook-rt.v1.ts';
import { RdError } from '../errors.ts';
import { accept, type IntakeDeps } from '../intake.ts';
import type { Metrics } from '../metrics.ts';
import { verifySignature } from './signature.ts';

/** POST /webhooks/rt: verify, validate, persist, answer. The work happens later, in the worker. */
export function webhookRouter(deps: IntakeDeps & { secret: string; metrics: Metrics }): Router {
  const router = Router();
  router.post('/webhooks/rt', express.raw({ type: () => true, limit: WEBHOOK_MAX_BYTES }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      verifySignature(raw, req.get('x-rt-signature'), deps.secret);
      if (!req.is('application/json')) throw new RdError('RD_UNSUPPORTED_MEDIA', `Content-Type ${req.get('content-type') ?? '(none)'} is not application/json`);
      const result = await accept({ ...deps, answerBeforeEnqueue: true }, parse(raw), 'webhook');
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
