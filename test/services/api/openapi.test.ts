import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { ENDPOINTS } from '../../../services/api/openapi.ts';
import { startApp, TEST_SECRET, TEST_TOKEN } from '../../support/app.ts';
import { useTestDb } from '../../support/db.ts';
import { seedFailedPromotion } from '../../support/seed.ts';

// The contract: GET /openapi.json describes every endpoint, and the live answers match it, checked by an
// independent JSON Schema validator (ajv), not by the zod schemas it was generated from.
const t = useTestDb();
let app: Awaited<ReturnType<typeof startApp>>;
let doc: { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema?: object }> }> }>> };
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const checked = new Set<string>();

beforeAll(async () => {
  const config = loadConfig({
    RT_TOKEN: 'test-token-0123456789abcdef',
    WEBHOOK_SECRET: TEST_SECRET,
    API_TOKENS: TEST_TOKEN,
    MIRROR_TARGETS: 'site=rsync://127.0.0.1:1/none',
    STORAGE_DIR: '/nonexistent',
  });
  app = await startApp(t.db, { config });
  doc = await (await fetch(`${app.url}/openapi.json`)).json();
});
afterAll(() => app?.close());

const auth = { authorization: `Bearer ${TEST_TOKEN}` };

/** Calls the endpoint and checks the answer against the document's schema for its path, method and status. */
async function call(method: 'get' | 'post', path: string, docPath: string, want: number) {
  const res = await fetch(`${app.url}${path}`, { method: method.toUpperCase(), headers: auth });
  expect(res.status, `${method} ${path}`).toBe(want);
  const schema = doc.paths[docPath]?.[method]?.responses[String(want)]?.content['application/json']?.schema;
  expect(schema, `${method} ${docPath} ${want} is documented with a JSON schema`).toBeDefined();
  const body = await res.json();
  const validate = ajv.compile(schema!);
  expect(validate(body), `${method} ${path} ${want}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`).toBe(true);
  checked.add(`${method} ${docPath}`);
  return body;
}

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 and lists every endpoint with its access rule', () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: 'releasedesk' } });
    for (const e of ENDPOINTS) expect(doc.paths[e.path]?.[e.method], `${e.method} ${e.path}`).toBeDefined();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/releases', '/releases/{ticket}/retry', '/mirrors', '/gc', '/drift/check']),
    );
  });

  it('describes the live answers: releases, history, retry, mirrors, gc, drift, health and errors', async () => {
    await seedFailedPromotion(t.db);

    const list = await call('get', '/releases', '/releases', 200);
    expect(list.releases[0].sla).toMatchObject({ status: 'Unverified', overdue: false });
    await call('get', '/releases?overdue=1', '/releases', 200);
    await call('get', '/releases/42', '/releases/{ticket}', 200);
    await call('get', '/releases/42/history', '/releases/{ticket}/history', 200);
    await call('get', '/releases/42/validate?target=stage-rollout', '/releases/{ticket}/validate', 200);
    await call('post', '/releases/42/retry', '/releases/{ticket}/retry', 202);
    await call('get', '/releases/999', '/releases/{ticket}', 404);
    await call('get', '/releases?status=Bogus', '/releases', 400);
    await call('get', '/mirrors', '/mirrors', 200);
    await call('get', '/mirrors/plan', '/mirrors/plan', 200);
    await call('post', '/mirrors/sync', '/mirrors/sync', 202);
    await call('get', '/mirrors/plan?target=nope', '/mirrors/plan', 404);
    await call('get', '/gc/plan', '/gc/plan', 200);
    await call('post', '/gc', '/gc', 200);
    expect((await call('get', '/drift', '/drift', 200)).report).toBeNull();
    await call('post', '/drift/check', '/drift/check', 200);
    expect((await call('get', '/drift', '/drift', 200)).report).not.toBeNull();
    await call('get', '/healthz', '/healthz', 200);
    await call('get', '/releases/42/evidence', '/releases/{ticket}/evidence', 404);
    await call('get', '/releases/42/evidence.asc', '/releases/{ticket}/evidence.asc', 404);
    await call('get', '/ui/releases/999', '/ui/releases/{ticket}', 404);
    await call('get', '/ui/products/nope', '/ui/products/{product}', 404);

    // every JSON answer a reader or admin can get without RT was checked here
    const jsonGets = ENDPOINTS.filter(
      (e) => e.method === 'get' && Object.values(e.answers).some((a) => typeof a !== 'string') && !e.path.includes('bundle'),
    );
    const unchecked = jsonGets.map((e) => `get ${e.path}`).filter((k) => !checked.has(k));
    expect(unchecked).toEqual([]);
  });

  it('documents the webhook body the service validates with', () => {
    const post = doc.paths['/webhooks/rt']!.post as unknown as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
    };
    expect(post.requestBody.content['application/json']!.schema.required).toEqual(
      expect.arrayContaining(['event', 'ticket_id', 'transaction_id', 'created']),
    );
  });
});
