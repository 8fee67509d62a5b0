import Keygrip from 'keygrip';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { sessionKey } from '../../../services/api/auth.ts';
import { SESSION_COOKIE } from '../../../services/api/session.ts';
import { createHelpdesk } from '../../../services/helpdesk/index.ts';
import { createLogger } from '../../../services/log.ts';
import { startApp, TEST_SECRET } from '../../support/app.ts';
import { useTestDb } from '../../support/db.ts';
import { ensureRtRunning, RT_URL, rtClient, rtTokens } from '../../support/rt.ts';

// Sign-in with real RT accounts (RT checks the password; RT groups are the roles), sessions, CSRF, personal
// tokens, and who may call each write endpoint: anonymous, wrong role, right role.
const t = useTestDb();
const TOKEN = 'signin-operator-token-0123456789';
type App = Awaited<ReturnType<typeof startApp>>;
let app: App;
let adminApp: App;
let ticket: number;
/** a real RT ticket: retry reads it (a fixed number is a ticket only on an RT that already holds that many) */
let reviewed: number;

const configOf = (admin: string) =>
  loadConfig({
    RT_TOKEN: rtTokens().releasedesk,
    RT_URL,
    WEBHOOK_SECRET: TEST_SECRET,
    API_TOKENS: TOKEN,
    ADMIN_GROUP: admin,
    MIRROR_TARGETS: 'site=rsync://127.0.0.1:1/none',
    STORAGE_DIR: '/nonexistent',
  });

beforeAll(async () => {
  await ensureRtRunning();
  const log = createLogger('silent');
  const config = configOf('ReleasedeskAdmins'); // a group nobody is in: no person is admin here
  app = await startApp(t.db, { config, helpdesk: createHelpdesk(config, log) });
  const admins = configOf('RolloutCoordinators');
  adminApp = await startApp(t.db, { config: admins, helpdesk: createHelpdesk(admins, log) });
  ticket = await rtClient('provider1').createTicket({ subject: 'sign-in test', requestor: 'provider1', content: 'x', attachments: [] });
  reviewed = await rtClient('provider1').createTicket({
    subject: 'sign-in test, reviewed',
    requestor: 'provider1',
    content: 'x',
    attachments: [],
  });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await adminApp?.close();
});

/** Two failed actions: one a reviewer may retry, one the provider may. */
beforeEach(async () => {
  for (const [tid, action, txn] of [
    [reviewed, 'MoveToStageRollOut', 900],
    [ticket, 'MoveToUnverified', 901],
  ] as const) {
    const [inbox] = await t
      .db('inbox')
      .insert({
        ticket_id: tid,
        transaction_id: txn,
        event: 'customfield.changed',
        action,
        actor_name: 'x',
        source: 'webhook',
        payload: '{}',
        state: 'failed',
      })
      .returning('id');
    await t.db('releases').insert({ ticket_id: tid, status: 'Failed' });
    await t
      .db('transitions')
      .insert({ ticket_id: tid, inbox_id: inbox.id, action, outcome: 'failed', from_status: 'New', to_status: 'Failed' });
  }
});

interface Session {
  cookie: string;
  csrf: string;
}

async function signIn(a: App, user: string, password = `${user}-password`): Promise<Session> {
  const res = await fetch(`${a.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: a.url },
    body: new URLSearchParams({ username: user, password, next: '/account' }),
  });
  expect(res.status, await res.clone().text()).toBe(303);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const account = await (await fetch(`${a.url}/account`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(account)![1]!;
  return { cookie, csrf };
}

const post = (a: App, path: string, s?: Session, opts: { csrf?: string | null; origin?: string; form?: Record<string, string> } = {}) =>
  fetch(`${a.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(s ? { cookie: s.cookie } : {}),
      ...(opts.origin ? { origin: opts.origin } : {}),
    },
    body: new URLSearchParams({ ...(opts.csrf === null ? {} : { _csrf: opts.csrf ?? s?.csrf ?? '' }), ...opts.form }),
  });
const code = async (res: Response) => (await res.json()).error;

describe('signed in, by RT', () => {
  it('keeps release views and every write endpoint from anonymous callers; repositories, keys and health stay public', async () => {
    expect(await code(await fetch(`${app.url}/releases`))).toBe('RD_SIGNIN_REQUIRED');
    expect((await fetch(`${app.url}/releases/${reviewed}`)).status).toBe(401);
    expect((await fetch(`${app.url}/account`, { redirect: 'manual' })).headers.get('location')).toBe('/login?next=%2Faccount');
    for (const path of [
      `/releases/${reviewed}/retry`,
      '/mirrors/sync',
      '/gc',
      '/drift/check',
      '/account/tokens',
      '/account/tokens/1/revoke',
    ]) {
      const res = await post(app, path);
      expect([path, res.status, await code(res)]).toEqual([path, 401, 'RD_SIGNIN_REQUIRED']);
    }
    for (const path of ['/gc/plan', '/mirrors/plan']) {
      const res = await fetch(`${app.url}${path}`);
      expect([path, res.status, await code(res)]).toEqual([path, 401, 'RD_SIGNIN_REQUIRED']);
    }
    expect((await fetch(`${app.url}/schemas/release-v0.2.xsd`)).status).toBe(200);
    expect((await fetch(`${app.url}/repos/none/x`)).status).toBe(404); // public, just absent
    expect((await fetch(`${app.url}/login`)).status).toBe(200);
  });

  it('refuses a wrong password with the reason, takes the right one, and the roles are the RT groups', async () => {
    const bad = await fetch(`${app.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'tug1', password: 'wrong' }),
    });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('[RD_SIGNIN_FAILED] RT did not accept that user name and password');
    const s = await signIn(app, 'tug1');
    expect((await fetch(`${app.url}/releases`, { headers: { cookie: s.cookie } })).status).toBe(200);
    expect(await (await fetch(`${app.url}/account`, { headers: { cookie: s.cookie } })).text()).toContain('TechnologyUnit');
  });

  it('retry: the role that may run the failed action may retry it, another role may not', async () => {
    const [tug, rollout, provider] = await Promise.all([signIn(app, 'tug1'), signIn(app, 'rollout1'), signIn(app, 'provider1')]);
    let res = await post(app, `/releases/${reviewed}/retry`, rollout);
    expect([res.status, await code(res)]).toEqual([403, 'RD_ROLE_FORBIDDEN']);
    expect((await post(app, `/releases/${reviewed}/retry`, tug)).status).toBe(202);
    // MoveToUnverified: the ticket's requestor, not a reviewer
    res = await post(app, `/releases/${ticket}/retry`, tug);
    expect([res.status, await code(res)]).toEqual([403, 'RD_ROLE_FORBIDDEN']);
    expect((await post(app, `/releases/${ticket}/retry`, provider)).status).toBe(202);
  });

  it('admin operations: refused to a reviewer, taken from a member of ADMIN_GROUP and from an operator token', async () => {
    const tug = await signIn(app, 'tug1');
    for (const path of ['/gc', '/mirrors/sync', '/drift/check']) {
      const res = await post(app, path, tug);
      expect([path, res.status, await code(res)]).toEqual([path, 403, 'RD_ADMIN_REQUIRED']);
    }
    for (const path of ['/gc/plan', '/mirrors/plan']) {
      const res = await fetch(`${app.url}${path}`, { headers: { cookie: tug.cookie } });
      expect([path, res.status, await code(res)]).toEqual([path, 403, 'RD_ADMIN_REQUIRED']);
    }
    expect((await fetch(`${adminApp.url}/gc/plan`, { headers: { cookie: (await signIn(adminApp, 'rollout1')).cookie } })).status).toBe(200);
    const admin = await signIn(adminApp, 'rollout1');
    expect((await post(adminApp, '/gc', admin)).status).toBe(200);
    expect((await post(adminApp, '/mirrors/sync', admin)).status).toBe(202);
    const byToken = await fetch(`${app.url}/gc`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(byToken.status).toBe(200);
  });

  it('refuses a cross-site form post and a form without the session token', async () => {
    const s = await signIn(app, 'tug1');
    let res = await post(app, '/account/tokens', s, { csrf: null, form: { label: 'cli' } });
    expect([res.status, await code(res)]).toEqual([403, 'RD_CSRF_REFUSED']);
    res = await post(app, '/account/tokens', s, { origin: 'http://evil.example', form: { label: 'cli' } });
    expect([res.status, await code(res)]).toEqual([403, 'RD_CSRF_REFUSED']);
    res = await post(app, `/releases/${reviewed}/retry`, s, { origin: 'http://evil.example' });
    expect([res.status, await code(res)]).toEqual([403, 'RD_CSRF_REFUSED']);
    expect(await t.db('inbox').where({ source: 'retry' })).toEqual([]);
  });

  it('refuses a forged session and an expired one', async () => {
    const s = await signIn(app, 'tug1');
    const value = (name: string) => new RegExp(`${name}=([^;]+)`).exec(s.cookie)![1]!;
    const forged = Buffer.from(JSON.stringify({ user: 'root', exp: Date.now() + 3_600_000, csrf: 'x' })).toString('base64');
    const forgedCookie = `${SESSION_COOKIE}=${forged}; ${SESSION_COOKIE}.sig=${value(`${SESSION_COOKIE}.sig`)}`;
    expect((await fetch(`${app.url}/releases`, { headers: { cookie: forgedCookie } })).status).toBe(401);
    // signed with the desk's own key, but past its expiry
    const expired = Buffer.from(JSON.stringify({ user: 'tug1', exp: Date.now() - 1000, csrf: 'x' })).toString('base64');
    const sig = new Keygrip([sessionKey(configOf('x'))]).sign(`${SESSION_COOKIE}=${expired}`);
    expect(
      (await fetch(`${app.url}/releases`, { headers: { cookie: `${SESSION_COOKIE}=${expired}; ${SESSION_COOKIE}.sig=${sig}` } })).status,
    ).toBe(401);
  });

  it('issues a personal token that acts as its person, with their roles, until revoked', async () => {
    const s = await signIn(app, 'tug1');
    const page = await (await post(app, '/account/tokens', s, { form: { label: 'laptop cli' } })).text();
    const token = /<code class="token">(rdp_[^<]+)<\/code>/.exec(page)![1]!;
    const bearer = { authorization: `Bearer ${token}` };
    expect((await fetch(`${app.url}/releases`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${app.url}/releases/${reviewed}/retry`, { method: 'POST', headers: bearer })).status).toBe(202); // no CSRF token needed
    expect((await fetch(`${app.url}/gc`, { method: 'POST', headers: bearer })).status).toBe(403);
    const id = (await t.db('api_tokens').where({ user_name: 'tug1' }).first('id')).id;
    expect((await post(app, `/account/tokens/${id}/revoke`, s)).status).toBe(303);
    expect(await code(await fetch(`${app.url}/releases`, { headers: bearer }))).toBe('RD_AUTH_INVALID');
    expect(await t.db('api_tokens').select('token_sha256')).not.toContainEqual({ token_sha256: token });
  });
});
