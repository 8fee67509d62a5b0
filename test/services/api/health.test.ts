import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../../support/db.ts';
import { startApp } from '../../support/app.ts';

const t = useTestDb();
let app: Awaited<ReturnType<typeof startApp>>;
beforeAll(async () => {
  app = await startApp(t.db, {
    health: {
      postgres: async () => {
        await t.db.raw('SELECT 1');
      },
      helpdesk: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:8085');
      },
    },
  });
});
afterAll(async () => {
  await app?.close();
});

describe('GET /healthz and /metrics', () => {
  it('answers 503 degraded naming what is down, and ok for the rest', async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'degraded',
      checks: { postgres: 'ok', helpdesk: 'down: connect ECONNREFUSED 127.0.0.1:8085' },
    });
  });
  it('exposes Prometheus metrics, counting webhooks by outcome', async () => {
    await fetch(`${app.url}/webhooks/rt`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toContain('releasedesk_webhooks_total{outcome="RD_SIGNATURE_MISSING"} 1');
    expect(text).toContain('# TYPE releasedesk_job_duration_seconds histogram');
  });
  it('serves the release.xml schema and refuses other file names', async () => {
    const xsd = await fetch(`${app.url}/schemas/release-v0.2.xsd`);
    expect(xsd.status).toBe(200);
    expect(await xsd.text()).toContain('http://repo.egi.eu/0.2/release');
    expect((await fetch(`${app.url}/schemas/..%2Fpackage.json`)).status).toBe(404);
  });
});
