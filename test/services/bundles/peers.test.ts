/**
 * Calls between desks on the real PostgreSQL, two real HTTP services on loopback: the status of an imported
 * release carried back to its source through the outbox (a peer away delays it, loses nothing, holds up no
 * RT write-back), and a dependency check asked of another desk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../config/index.ts';
import { PeerClient } from '../../../services/bundles/peer-client.ts';
import { deliverDue, enqueueWriteBack } from '../../../services/helpdesk/outbox.ts';
import { createLogger } from '../../../services/log.ts';
import { MemoryHelpdesk, headersOf, seedRelease, useStepEnv, useTestPackages } from '../../support/step-context.ts';
import { startApp } from '../../support/app.ts';

const env = useStepEnv();
const pk = useTestPackages();
const log = createLogger('silent');
const SECRET = 'central-and-site-de-0123456789';
const PRODUCT = 'TESTTP.testpkg.el9.noarch';

let central: Awaited<ReturnType<typeof startApp>>;
let site: Awaited<ReturnType<typeof startApp>>;
let siteConfig: Config;
const base = { RT_TOKEN: 'x'.repeat(20), WEBHOOK_SECRET: 'y'.repeat(20), PUBLIC_READS: 'true' };

beforeAll(async () => {
  // both desks on the one test database: enough for the HTTP between them, which is what is tested here
  central = await startApp(env.db, {
    config: loadConfig({
      ...base,
      DESK_NAME: 'central',
      PEERS: `site-de=http://127.0.0.1:9|${SECRET}`,
      API_TOKENS: 'operator-0123456789abcdef',
    }),
  });
  siteConfig = loadConfig({ ...base, DESK_NAME: 'site-de', PEERS: `central=${central.url}|${SECRET}` });
  site = await startApp(env.db, { config: siteConfig });
  // central learns where site-de is now that it listens
  central.deps.config.PEERS.splice(0, 1, { name: 'site-de', url: site.url, secret: SECRET });
});
afterAll(async () => {
  await central?.close();
  await site?.close();
});

const post = (url: string, body: unknown, token?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

const outboxOf = (ticket: number) => env.db('outbox').where({ ticket_id: ticket }).orderBy('id');

describe('the status of an imported release, carried back', () => {
  it('the site queues it, the outbox delivers it, central comments once on its ticket', async () => {
    const source = await seedRelease(env, { ticketId: 7, product: PRODUCT, pkgs: pk().rpms, headers: await headersOf(pk().rpms) });
    expect(source).toBeGreaterThan(0);
    // site-de's ticket 301 imported central's ticket 7 and reached Production
    await enqueueWriteBack(env.db, 301, 'inbox-9:ok:source', {
      kind: 'peer-status',
      peer: 'central',
      sourceTicket: 7,
      status: 'Production',
    });
    await enqueueWriteBack(env.db, 301, 'inbox-9:ok:fields', { kind: 'fields', fields: { RepoStatus: 'Production' } });
    const rt = new MemoryHelpdesk();
    const peers = new PeerClient(siteConfig);
    expect(await deliverDue(env.db, rt, log, { peers })).toEqual({ delivered: 2, failed: 0 });
    const [comment] = await outboxOf(7);
    expect(comment.kind).toBe('comment');
    expect(comment.payload.text).toContain(`The release desk "site-de" (${siteConfig.PUBLIC_URL})`);
    expect(comment.payload.text).toMatch(/applied it \(Production\): its ticket 301 is now Production/);
    // the same delivery again (its answer lost): still one comment
    await env
      .db('outbox')
      .where({ ticket_id: 301 })
      .update({ delivered_at: null, next_attempt_at: new Date(0) });
    await deliverDue(env.db, rt, log, { peers });
    expect(await outboxOf(7)).toHaveLength(1);
  });

  it("a source desk that is away: retried later, nothing lost, and the ticket's RT write-backs are not held up", async () => {
    await seedRelease(env, { ticketId: 7, product: PRODUCT, pkgs: pk().rpms, headers: await headersOf(pk().rpms) });
    const away = new PeerClient({ ...siteConfig, PEERS: [{ name: 'central', url: 'http://127.0.0.1:9', secret: SECRET }] });
    await enqueueWriteBack(env.db, 302, 'inbox-10:ok:source', {
      kind: 'peer-status',
      peer: 'central',
      sourceTicket: 7,
      status: 'Rejected',
    });
    await enqueueWriteBack(env.db, 302, 'inbox-10:ok:fields', { kind: 'fields', fields: { RepoStatus: 'Rejected' } });
    const rt = new MemoryHelpdesk();
    expect(await deliverDue(env.db, rt, log, { peers: away })).toEqual({ delivered: 1, failed: 1 });
    const held = await env.db('outbox').where({ ticket_id: 302, kind: 'peer-status' }).first();
    expect(held.delivered_at).toBeNull();
    expect(held.last_error).toMatch(/RD_PEER_UNAVAILABLE/);
    await env
      .db('outbox')
      .where({ id: held.id })
      .update({ next_attempt_at: new Date(0) });
    expect(await deliverDue(env.db, rt, log, { peers: new PeerClient(siteConfig) })).toEqual({ delivered: 1, failed: 0 });
    expect((await outboxOf(7))[0].payload.text).toMatch(/rejected it: its ticket 302 is now Rejected/);
  });

  it('POST /peer/status answers only to a peer secret, and 404 for a ticket central does not have', async () => {
    const body = { desk: 'site-de', url: site.url, sourceTicket: 7, ticket: 303, status: 'Unverified', marker: 'm1' };
    expect((await post(`${central.url}/peer/status`, body)).status).toBe(401);
    const operator = await post(`${central.url}/peer/status`, body, 'operator-0123456789abcdef');
    expect(operator.status).toBe(401);
    expect((await operator.json()).error).toBe('RD_AUTH_INVALID');
    const unknown = await post(`${central.url}/peer/status`, body, SECRET);
    expect(unknown.status).toBe(404);
    const bad = await post(`${central.url}/peer/status`, { ...body, status: 'Processing' }, SECRET);
    expect(bad.status).toBe(400);
  });
});

describe('validate against a remote desk', () => {
  it("lists what the remote's target lacks, then nothing once a release there provides it", async () => {
    const headers = await headersOf(pk().rpms);
    // testpkg-dep requires testpkg
    const needy = pk().rpms.find((p) => p.filename.startsWith('testpkg-dep'))!;
    const dep = pk().rpms.find((p) => p.filename.startsWith('testpkg-1'))!;
    await seedRelease(env, { ticketId: 8, product: PRODUCT, pkgs: [needy], headers });
    const ask = () =>
      fetch(`${central.url}/releases/8/validate?target=production&remote=site-de`).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
    const before = await ask();
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ remote: 'site-de', desk: 'site-de', satisfied: false });
    expect(before.body.unmet.map((u: { requirement: string }) => u.requirement).join()).toMatch(/^testpkg /);
    // on site-de, a release of another product that provides it is in Production
    await seedRelease(env, {
      ticketId: 9,
      product: 'TESTTP.dep.el9.noarch',
      pkgs: [dep],
      headers,
      status: 'Production',
      stages: ['production'],
    });
    const after = await ask();
    expect(after.body).toMatchObject({ remote: 'site-de', satisfied: true, unmet: [] });
  });

  it('RD_PEER_UNKNOWN for a desk that is not in PEERS', async () => {
    await seedRelease(env, { ticketId: 8, product: PRODUCT, pkgs: pk().rpms, headers: await headersOf(pk().rpms) });
    const r = await fetch(`${central.url}/releases/8/validate?target=production&remote=elsewhere`);
    expect(r.status).toBe(422);
    expect((await r.json()).error).toBe('RD_PEER_UNKNOWN');
  });
});
