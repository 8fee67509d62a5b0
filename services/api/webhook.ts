import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import typeis from 'type-is';
import { rtWebhookV1, WEBHOOK_MAX_BYTES } from '../../schemas/webhook-rt.v1.ts';
import type { Config } from '../../config/index.ts';
import { isRdError, RdError } from '../errors.ts';
import { accept, type IntakeDeps } from '../intake.ts';
import type { Metrics } from '../metrics.ts';
import { type Answer, errorAnswer, sendJson } from './http-errors.ts';
import { verifySignature } from './signature.ts';

export const WEBHOOK_PATH = '/webhooks/rt';

export type WebhookDeps = IntakeDeps & { secret: string; metrics: Metrics; config: Pick<Config, 'WEBHOOK_MAX_AGE_MS'> };

/**
 * POST /webhooks/rt: verify, validate, persist, answer. The work happens later, in the worker. This is the one
 * path taken thousands of times a second, so it is answered by plain Node, before Express (whose router and
 * response helpers cost a quarter of the service's CPU per webhook here: bench/RESULTS.md).
 */
export function webhookHandler(deps: WebhookDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const intake = { ...deps, answerBeforeEnqueue: true };
  return (req, res) => {
    receive(intake, req).then(
      (a) => sendJson(res, a.status, a.body),
      (e: unknown) => {
        deps.metrics.webhooks.inc({ outcome: isRdError(e) ? e.code : 'error' });
        const a = errorAnswer(e, deps.log, WEBHOOK_PATH);
        sendJson(res, a.status, a.body);
      },
    );
  };
}

/** Whether a request is for the webhook: its path, with or without a trailing slash or a query. */
export function isWebhook(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || !req.url?.startsWith(WEBHOOK_PATH)) return false;
  const rest = req.url.slice(WEBHOOK_PATH.length);
  return rest === '' || rest === '/' || rest.startsWith('?') || rest.startsWith('/?');
}

async function receive(deps: WebhookDeps, req: IncomingMessage): Promise<Answer> {
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding !== 'identity')
    throw new RdError('RD_UNSUPPORTED_MEDIA', `Content-Encoding ${encoding} is not taken; send the JSON body as it is`);
  const raw = await getRawBody(req, { length: req.headers['content-length'], limit: WEBHOOK_MAX_BYTES });
  verifySignature(raw, header(req, 'x-rt-signature'), deps.secret);
  if (!typeis(req, ['application/json']))
    throw new RdError('RD_UNSUPPORTED_MEDIA', `Content-Type ${req.headers['content-type'] ?? '(none)'} is not application/json`);
  const body = parse(raw);
  checkAge(body.created, deps.config.WEBHOOK_MAX_AGE_MS);
  const result = await accept(deps, body, 'webhook');
  deps.metrics.webhooks.inc({ outcome: result.outcome });
  if (result.outcome === 'duplicate') return { status: 200, body: { status: 'duplicate' } };
  if (result.outcome === 'ignored') return { status: 202, body: { status: 'ignored', why: result.why } };
  return { status: 202, body: { status: 'queued', inbox: result.row.id } };
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

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
