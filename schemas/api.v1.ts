/**
 * The HTTP API's requests and answers, as zod schemas: the routers validate requests with them and send their
 * answers through them (services/api/reply.ts), and GET /openapi.json is generated from them, so the
 * document and the service cannot drift apart.
 */
import { z } from 'zod';
import { REPO_ACTIONS, REPO_STATUSES } from '../services/workflow/transitions.ts';

const status = z.enum(REPO_STATUSES);
// answers are checked as they go on the wire, after JSON: a Date is its ISO string there
const time = z.iso.datetime({ offset: true });
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const errorBody = z
  .object({ error: z.string().describe('stable code (services/errors.ts)'), message: z.string(), next: z.string().describe('what to do') })
  .catchall(z.unknown());

// ---- requests
export const ticketParam = z.coerce.number().int().positive();
export const listQuery = z.object({
  status: z.enum(REPO_STATUSES).optional(),
  product: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  overdue: z.enum(['1', 'true']).optional(),
});
export const targetQuery = z.object({ target: z.string().max(64).optional() });
export const deepQuery = z.object({ deep: z.enum(['0', '1', 'true', 'false']).optional() });

// ---- answers
export const slaState = z.object({ status, enteredAt: time, deadlineAt: time, overdue: z.boolean() });

export const releaseSummary = z.object({
  ticket: z.number().int(),
  product: z.string().nullable(),
  name: z.string().nullable(),
  version: z.string().nullable(),
  revision: z.number().int().nullable(),
  platform: z.string().nullable(),
  arch: z.string().nullable(),
  kind: z.enum(['yum', 'apt']).nullable(),
  status,
  requestedAction: z.enum(REPO_ACTIONS).nullable(),
  repoUri: z.string().nullable(),
  updatedAt: time,
  sla: slaState.nullable(),
});
export const releaseList = z.object({ releases: z.array(releaseSummary) });

export const releaseDetail = releaseSummary.extend({
  xmlSha256: z.string().nullable(),
  deprecatedAt: time.nullable(),
  tombstone: z.record(z.string(), z.unknown()).nullable().describe('who deprecated it and why, and what retention purged'),
  packages: z.array(
    z.object({
      filename: z.string(),
      pkgname: z.string(),
      version: z.string(),
      release: z.string(),
      arch: z.string(),
      sha256,
      size: z.union([z.number(), z.string()]),
      url: z.string().nullable(),
    }),
  ),
});

export const history = z.object({
  ticket: z.number().int(),
  transitions: z.array(
    z.object({
      at: time,
      actor: z.string().nullable(),
      action: z.string().nullable(),
      from: z.string().nullable(),
      to: z.string().nullable(),
      outcome: z.string(),
      code: z.string().nullable(),
      reason: z.string().nullable(),
      durationMs: z.number().int().nullable(),
      transaction: z.union([z.number(), z.string()]).nullable(),
    }),
  ),
});

const unmet = z.object({ package: z.string(), requirement: z.string() });
export const validation = z
  .object({
    ticket: z.number().int(),
    status,
    target: z.string().optional(),
    satisfied: z.boolean(),
    unmet: z.array(unmet),
    unchecked: z.array(unmet),
    summary: z.string(),
    remote: z.string().optional(),
  })
  .catchall(z.unknown());

export const retryAnswer = z.object({
  status: z.literal('queued'),
  ticket: z.number().int(),
  action: z.enum(REPO_ACTIONS),
  inbox: z.number().int(),
  retryOf: z.number().int(),
});

export const webhookAnswer = z.union([
  z.object({ status: z.literal('queued'), inbox: z.number().int() }),
  z.object({ status: z.literal('duplicate') }),
  z.object({ status: z.literal('ignored'), why: z.string() }),
]);

export const mirrorStatus = z.object({
  name: z.string(),
  where: z.string(),
  state: z.enum(['in-step', 'behind', 'failing', 'never-synced']),
  lag_seconds: z.number(),
  last_success_at: time.nullable(),
  last_attempt_at: time.nullable(),
  failures: z.number().int(),
  last_error_code: z.string().nullable(),
  last_error: z.string().nullable(),
  files: z.number().int(),
  bytes: z.number(),
  delete_orphans: z.boolean(),
  public_url: z.string().nullable(),
});
export const mirrorList = z.object({ mirrors: z.array(mirrorStatus) });

const phaseCounts = z.object({ package: z.number().int(), index: z.number().int(), signed: z.number().int() });
export const syncReport = z.object({
  target: z.string(),
  where: z.string(),
  dryRun: z.boolean(),
  fingerprint: z.string(),
  repositories: z.number().int(),
  files: z.number().int(),
  bytes: z.number(),
  upload: z.object({ files: z.number().int(), copies: z.number().int(), bytes: z.number(), byPhase: phaseCounts }),
  delete: z.object({ files: z.number().int(), bytes: z.number(), enabled: z.boolean() }),
  unchanged: z.number().int(),
  changedOnTarget: z.array(z.string()),
  durationMs: z.number().int(),
});
export const syncPlans = z.object({
  plans: z.array(z.union([syncReport, z.object({ target: z.string(), error: z.object({ code: z.string(), message: z.string() }) })])),
});
export const syncRequested = z.object({ requested: z.array(z.string()), requested_at: time, within_ms: z.number().int() });

export const gcPlan = z.object({
  dryRun: z.boolean(),
  releases: z.array(
    z.object({
      ticket: z.number().int(),
      product: z.string().nullable(),
      version: z.string().nullable(),
      status: z.enum(['Deprecated', 'Rejected', 'Failed']),
      since: time,
      days: z.number().int(),
      packages: z.number().int(),
      deleted: z.number().int(),
      bytesFreed: z.number(),
      kept: z.number().int(),
    }),
  ),
  leftovers: z.object({ files: z.number().int(), bytes: z.number() }),
  bytesFreed: z.number(),
});

export const driftReport = z.object({
  checked_at: time,
  duration_ms: z.number().int(),
  deep: z.boolean(),
  items: z.array(
    z.object({
      kind: z.enum(['ticket-fields', 'index-missing', 'index-extra', 'file-missing', 'file-changed', 'mirror-missing', 'mirror-changed']),
      ticket: z.number().int().nullable(),
      where: z.string(),
      expected: z.string(),
      actual: z.string(),
      repaired: z.boolean(),
    }),
  ),
  skipped: z.array(z.string()),
  checked: z.object({ tickets: z.number().int(), repositories: z.number().int(), files: z.number().int(), mirrors: z.number().int() }),
});
export const driftAnswer = z.object({ report: driftReport.nullable() });

export const health = z.object({
  status: z.enum(['ok', 'degraded']),
  checks: z.record(z.string(), z.string()),
  mirrors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  drift: z.object({ checked_at: time, items: z.number().int() }).optional(),
});

export const evidenceStatement = z
  .object({
    _type: z.literal('https://in-toto.io/Statement/v1'),
    subject: z.array(z.object({ name: z.string(), digest: z.object({ sha256 }) })),
    predicateType: z.string(),
    predicate: z.record(z.string(), z.unknown()),
  })
  .describe('in-toto Statement v1; its detached OpenPGP signature is at the same path + .asc');
