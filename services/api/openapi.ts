import { z } from 'zod';
import * as api from '../../schemas/api.v1.ts';
import { rtWebhookV1 } from '../../schemas/webhook-rt.v1.ts';

/** Who may call an endpoint (README: Signing in). */
type Access = 'public' | 'reader' | 'admin' | 'role' | 'bearer' | 'peer' | 'hmac' | 'session';

interface Endpoint {
  method: 'get' | 'post';
  path: string;
  summary: string;
  access: Access;
  query?: z.ZodObject;
  body?: { type: string; schema?: z.ZodType };
  /** status -> JSON schema of the answer, or a media type for the others */
  answers: Record<number, z.ZodType | string>;
}

const ticket = { name: 'ticket', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };

/** Every endpoint of the service; the routers use the same schemas (schemas/api.v1.ts). */
export const ENDPOINTS: Endpoint[] = [
  {
    method: 'post',
    path: '/webhooks/rt',
    summary: 'A RepoAction change from the RT scrip (HMAC-SHA256 of the body in X-RT-Signature)',
    access: 'hmac',
    body: { type: 'application/json', schema: rtWebhookV1 },
    answers: {
      202: api.webhookAnswer,
      200: api.webhookAnswer,
      400: api.errorBody,
      401: api.errorBody,
      413: api.errorBody,
      415: api.errorBody,
    },
  },
  {
    method: 'get',
    path: '/healthz',
    summary: 'PostgreSQL, Redis, RT and its writes, the object store when BLOB_STORE has one; mirrors and drift when there are',
    access: 'public',
    answers: { 200: api.health, 503: api.health },
  },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', access: 'public', answers: { 200: 'text/plain' } },
  { method: 'get', path: '/openapi.json', summary: 'This document', access: 'public', answers: { 200: 'application/json' } },
  {
    method: 'get',
    path: '/releases',
    summary: 'Releases, newest changed first, with their SLA clocks',
    access: 'reader',
    query: api.listQuery,
    answers: { 200: api.releaseList, 400: api.errorBody, 401: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}',
    summary: 'One release: state, revision, packages, tombstone, SLA clock',
    access: 'reader',
    answers: { 200: api.releaseDetail, 401: api.errorBody, 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/history',
    summary: 'Every transition: who, when, from, to, outcome, code, reason',
    access: 'reader',
    answers: { 200: api.history, 401: api.errorBody, 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/validate',
    summary: 'The dependency check a promotion would run now (here, or at another desk with remote=)',
    access: 'reader',
    query: z.object({ target: z.enum(['stage-rollout', 'production']), remote: z.string().max(2000).optional() }),
    answers: { 200: api.validation, 400: api.errorBody, 401: api.errorBody, 404: api.errorBody, 409: api.errorBody },
  },
  {
    method: 'post',
    path: '/releases/{ticket}/retry',
    summary: 'Re-run the last failed action (by the role that may run it)',
    access: 'role',
    answers: { 202: api.retryAnswer, 401: api.errorBody, 403: api.errorBody, 404: api.errorBody, 409: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/evidence',
    summary: 'The evidence receipt of its Production revision',
    access: 'reader',
    answers: { 200: api.evidenceStatement, 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/evidence.asc',
    summary: "The receipt's detached signature",
    access: 'reader',
    answers: { 200: 'application/pgp-signature', 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/bundle',
    summary: 'The signed bundle of the release, for another desk',
    access: 'bearer',
    answers: { 200: 'application/gzip', 401: api.errorBody, 409: api.errorBody },
  },
  {
    method: 'get',
    path: '/releases/{ticket}/bundle/release.xml',
    summary: "The release.xml that names the bundle, for the receiving desk's ticket",
    access: 'bearer',
    query: z.object({ url: z.string().optional() }),
    answers: { 200: 'application/xml', 401: api.errorBody },
  },
  {
    method: 'post',
    path: '/peer/status',
    summary: 'Another desk reports the status of a release it imported from here',
    access: 'peer',
    body: { type: 'application/json' },
    answers: { 202: 'application/json', 401: api.errorBody },
  },
  {
    method: 'post',
    path: '/peer/validate',
    summary: "Another desk asks whether this desk's target would take a release's requirements",
    access: 'peer',
    body: { type: 'application/json' },
    answers: { 200: 'application/json', 401: api.errorBody },
  },
  {
    method: 'get',
    path: '/mirrors',
    summary: "Each mirror's state, lag and last error",
    access: 'reader',
    answers: { 200: api.mirrorList, 401: api.errorBody },
  },
  {
    method: 'get',
    path: '/mirrors/plan',
    summary: 'What a sync would upload and delete (lists each target; changes nothing)',
    access: 'admin',
    query: api.targetQuery,
    answers: { 200: api.syncPlans, 401: api.errorBody, 403: api.errorBody, 404: api.errorBody },
  },
  {
    method: 'post',
    path: '/mirrors/sync',
    summary: 'Sync the mirrors now (the worker runs it within MIRROR_CHECK_MS)',
    access: 'admin',
    query: api.targetQuery,
    answers: { 202: api.syncRequested, 401: api.errorBody, 403: api.errorBody, 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/gc/plan',
    summary: 'Releases past their retention and the bytes a purge frees (deletes nothing)',
    access: 'admin',
    answers: { 200: api.gcPlan, 401: api.errorBody, 403: api.errorBody },
  },
  {
    method: 'post',
    path: '/gc',
    summary: 'Purge the releases past their retention now',
    access: 'admin',
    answers: { 200: api.gcPlan, 401: api.errorBody, 403: api.errorBody },
  },
  {
    method: 'get',
    path: '/drift',
    summary: 'The last drift report (null until a check ran)',
    access: 'reader',
    answers: { 200: api.driftAnswer, 401: api.errorBody },
  },
  {
    method: 'post',
    path: '/drift/check',
    summary: 'Compare tickets, records, repositories and mirrors now',
    access: 'admin',
    query: api.deepQuery,
    answers: { 200: api.driftAnswer, 401: api.errorBody, 403: api.errorBody },
  },
  { method: 'get', path: '/login', summary: 'The sign-in page (an RT account)', access: 'public', answers: { 200: 'text/html' } },
  {
    method: 'post',
    path: '/login',
    summary: 'Sign in: RT checks the password; a session cookie is set',
    access: 'public',
    body: {
      type: 'application/x-www-form-urlencoded',
      schema: z.object({ username: z.string(), password: z.string(), next: z.string().optional() }),
    },
    answers: { 303: 'text/html', 401: 'text/html', 403: 'text/html', 429: 'text/html' },
  },
  { method: 'post', path: '/logout', summary: 'Sign out', access: 'session', answers: { 303: 'text/html' } },
  {
    method: 'get',
    path: '/account',
    summary: "The signed-in person's roles and personal API tokens",
    access: 'session',
    answers: { 200: 'text/html', 303: 'text/html' },
  },
  {
    method: 'post',
    path: '/account/tokens',
    summary: 'Issue a personal API token (shown once)',
    access: 'session',
    body: { type: 'application/x-www-form-urlencoded', schema: z.object({ label: z.string(), _csrf: z.string() }) },
    answers: { 201: 'text/html', 401: api.errorBody, 403: api.errorBody },
  },
  {
    method: 'post',
    path: '/account/tokens/{id}/revoke',
    summary: 'Revoke one of your tokens',
    access: 'session',
    answers: { 303: 'text/html', 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/schemas/{file}',
    summary: 'The release.xml schema (XSD) and the files it imports',
    access: 'public',
    answers: { 200: 'application/xml' },
  },
  {
    method: 'get',
    path: '/keys/{file}',
    summary: 'The public signing keys sites verify the repositories with',
    access: 'public',
    answers: { 200: 'application/pgp-keys' },
  },
  {
    method: 'get',
    path: '/repos/{path}',
    summary: 'The published repositories dnf and apt read (indexes, signatures, packages, client files)',
    access: 'public',
    answers: { 200: 'application/octet-stream', 404: 'text/html' },
  },
  {
    method: 'get',
    path: '/',
    summary: 'The console: the board of releases',
    access: 'reader',
    answers: { 200: 'text/html', 303: 'text/html' },
  },
  {
    method: 'get',
    path: '/ui/releases/{ticket}',
    summary: "The console: a release's page",
    access: 'reader',
    answers: { 200: 'text/html', 303: 'text/html', 404: api.errorBody },
  },
  {
    method: 'get',
    path: '/ui/releases/{ticket}/progress',
    summary: "The console: a running action's progress (an HTML fragment htmx polls)",
    access: 'reader',
    answers: { 200: 'text/html' },
  },
  {
    method: 'get',
    path: '/ui/products/{product}',
    summary: "The console: a product's revisions",
    access: 'reader',
    answers: { 200: 'text/html', 404: api.errorBody },
  },
  { method: 'get', path: '/ui/health', summary: 'The console: the health page', access: 'reader', answers: { 200: 'text/html' } },
];

const SECURITY: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  hmac: [{ rtSignature: [] }],
  reader: [{ session: [] }, { bearer: [] }, {}],
  role: [{ session: [] }, { bearer: [] }],
  admin: [{ session: [] }, { bearer: [] }],
  bearer: [{ bearer: [] }],
  peer: [{ bearer: [] }],
  session: [{ session: [] }],
};

const ACCESS_NOTE: Record<Access, string> = {
  public: 'Public.',
  hmac: 'RT only: X-RT-Signature.',
  reader: 'Signed in (session or token), or anyone when PUBLIC_READS=true.',
  role: 'The role that may run the failed action, an admin, or an operator token.',
  admin: 'Members of ADMIN_GROUP, or an operator token (API_TOKENS).',
  bearer: 'An operator token (API_TOKENS) or another desk (PEERS).',
  peer: 'Another desk only (its PEERS secret).',
  session: 'The signed-in person; forms carry the CSRF token.',
};

const jsonSchema = (s: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

function content(answer: z.ZodType | string) {
  return typeof answer === 'string' ? { [answer]: {} } : { 'application/json': { schema: jsonSchema(answer, 'output') } };
}

/** OpenAPI 3.1 (its schemas are JSON Schema 2020-12, as zod writes them), built from ENDPOINTS once. */
export function openApiDocument(serverUrl: string, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of ENDPOINTS) {
    const params: unknown[] = [];
    if (e.path.includes('{ticket}')) params.push(ticket);
    if (e.path.includes('{id}')) params.push({ name: 'id', in: 'path', required: true, schema: { type: 'integer' } });
    for (const name of ['file', 'path', 'product'])
      if (e.path.includes(`{${name}}`)) params.push({ name, in: 'path', required: true, schema: { type: 'string' } });
    if (e.query) {
      const q = jsonSchema(e.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {}))
        params.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
    paths[e.path] ??= {};
    paths[e.path]![e.method] = {
      summary: e.summary,
      description: ACCESS_NOTE[e.access],
      security: SECURITY[e.access],
      ...(params.length ? { parameters: params } : {}),
      ...(e.body
        ? {
            requestBody: {
              required: true,
              content: { [e.body.type]: e.body.schema ? { schema: jsonSchema(e.body.schema, 'input') } : {} },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(e.answers).map(([code, a]) => [code, { description: `HTTP ${code}`, content: content(a) }]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'releasedesk',
      version,
      description: 'Ticket-driven software releases (README). Errors: {error, message, next} with a stable code.',
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'releasedesk_session', description: 'Signed in at /login with an RT account' },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A personal token (/account), an operator token (API_TOKENS) or a PEERS secret',
        },
        rtSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-RT-Signature',
          description: 'sha256=<HMAC-SHA256 of the raw body with WEBHOOK_SECRET>',
        },
      },
    },
    paths,
  };
}
