import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { insertToken, revokeToken, tokensOf } from '../db/api-tokens.ts';
import { catalog, isRdError, RdError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { callerOf, newPersonalToken, rolesOf, tokenDigest, type AuthDeps, type SessionData } from '../api/auth.ts';
import { sameOrigin, startSession } from '../api/session.ts';
import { html, type Html } from './html.ts';
import { page, time, type PageUser } from './layout.ts';

const assets = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');
const HTMX = createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js');

export interface ConsoleDeps extends AuthDeps {
  log: Logger;
  config: AuthDeps['config'] & { SESSION_MAX_AGE_MS: number; PUBLIC_URL: string };
}

const loginBody = z.object({
  username: z.string().trim().min(1).max(200),
  password: z.string().min(1).max(1000),
  next: z.string().max(2000).optional(),
});
const tokenBody = z.object({ label: z.string().trim().min(1, 'give the token a name').max(100) });

/** Where to go after signing in: a path of this desk only (never another site). */
const safeNext = (n: string | undefined) => (n && /^\/(?![/\\])/.test(n) ? n : '/account');

/** Failed sign-ins per user name: five in a row hold that name back for a minute (RT's bcrypt is the real cost). */
const failures = new Map<string, { count: number; until: number }>();

/**
 * Signing in with an RT account, out, and the account page where a person issues personal API tokens for the
 * CLI. Pages are server-rendered and need no JavaScript; every form carries the session's CSRF token.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const r = Router();
  // htmx (2.x) from node_modules, never from a CDN: the live parts of the release page
  r.get('/console/assets/htmx.min.js', (_req, res) => {
    res.type('text/javascript').sendFile(HTMX, { maxAge: '1h' });
  });
  r.use('/console/assets', express.static(assets, { index: false, fallthrough: false, maxAge: '1h' }));

  r.get('/login', (req, res) => {
    res.type('html').send(loginPage(typeof req.query.next === 'string' ? req.query.next : undefined).text);
  });

  r.post('/login', async (req, res) => {
    const b = loginBody.safeParse(req.body);
    const next = b.success ? b.data.next : undefined;
    const fail = (status: number, message: string) => res.status(status).type('html').send(loginPage(next, message).text);
    if (!sameOrigin(req, deps.config.PUBLIC_URL)) return fail(403, `[RD_CSRF_REFUSED] ${catalog.RD_CSRF_REFUSED.next}`);
    if (!b.success) return fail(400, '[RD_PAYLOAD_INVALID] Give your RT user name and password.');
    const name = b.data.username;
    const held = failures.get(name);
    if (held && held.count >= 5 && held.until > Date.now())
      return fail(429, `[RD_SIGNIN_FAILED] Too many failed sign-ins for ${name}: wait a minute.`);
    if (!deps.helpdesk) return fail(503, '[RD_HELPDESK_UNAVAILABLE] This service has no RT connection to check sign-ins.');
    let ok: boolean;
    try {
      ok = await deps.helpdesk.checkPassword(name, b.data.password);
    } catch (e) {
      if (!isRdError(e)) throw e;
      return fail(503, `[${e.code}] RT could not be asked: ${e.message}. ${catalog[e.code].next}`);
    }
    if (!ok) {
      failures.set(name, { count: (held?.count ?? 0) + 1, until: Date.now() + 60_000 });
      deps.log.info({ user: name }, 'sign-in refused by RT');
      return fail(401, `[RD_SIGNIN_FAILED] RT did not accept that user name and password. ${catalog.RD_SIGNIN_FAILED.next}`);
    }
    failures.delete(name);
    startSession(req, name, deps.config.SESSION_MAX_AGE_MS);
    deps.log.info({ user: name }, 'signed in');
    res.redirect(303, safeNext(next));
  });

  r.post('/logout', (req, res) => {
    req.session = null;
    res.redirect(303, '/login');
  });

  r.get('/account', async (req, res) => {
    const user = signedIn(req, res);
    if (!user) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    res.type('html').send((await accountPage(deps, user)).text);
  });

  r.post('/account/tokens', async (req, res) => {
    const user = mustBeSignedIn(req, res);
    const b = tokenBody.safeParse(req.body);
    if (!b.success)
      return res
        .status(400)
        .type('html')
        .send((await accountPage(deps, user, { error: b.error.issues[0]!.message })).text);
    const token = newPersonalToken();
    await insertToken(deps.db, user.name, b.data.label, tokenDigest(token));
    deps.log.info({ user: user.name, label: b.data.label }, 'personal API token issued');
    res
      .status(201)
      .type('html')
      .send((await accountPage(deps, user, { token })).text);
  });

  r.post('/account/tokens/:id/revoke', async (req, res) => {
    const user = mustBeSignedIn(req, res);
    const id = Number(req.params.id);
    if (!Number.isInteger(id) || !(await revokeToken(deps.db, user.name, id)))
      throw new RdError('RD_NOT_FOUND', `you have no live token ${req.params.id}`);
    res.redirect(303, '/account');
  });
  return r;
}

function signedIn(req: Request, res: Response): PageUser | null {
  const c = callerOf(res);
  if (c?.kind !== 'user' || c.via !== 'session') return null;
  return { name: c.name, csrf: (req.session as SessionData).csrf ?? '' };
}

function mustBeSignedIn(req: Request, res: Response): PageUser {
  const u = signedIn(req, res);
  if (!u) throw new RdError('RD_SIGNIN_REQUIRED', `${req.method} ${req.path} needs a signed-in user (GET /login)`);
  return u;
}

function loginPage(next: string | undefined, error?: string): Html {
  return page(
    'Sign in',
    null,
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>Sign in with your Request Tracker account: the same user name and password as on RT. Your RT groups are your roles here.</p>
<form method="post" action="/login">
  <input type="hidden" name="next" value="${safeNext(next)}">
  <label for="username">RT user name</label>
  <input type="text" id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  <p><button type="submit">Sign in</button></p>
</form>`,
  );
}

async function accountPage(deps: ConsoleDeps, user: PageUser, shown: { token?: string; error?: string } = {}): Promise<Html> {
  const [roles, tokens] = await Promise.all([rolesOf(deps, user.name), tokensOf(deps.db, user.name)]);
  const live = tokens.filter((t) => !t.revoked_at);
  return page(
    'Account',
    user,
    html`<p>Signed in as <strong>${user.name}</strong>. RT groups: ${roles.groups.length ? roles.groups.join(', ') : 'none'}${
      roles.admin ? html` (admin: group ${deps.config.ADMIN_GROUP})` : ''
    }.</p>
${
  shown.token
    ? html`<div class="notice" role="status"><p>Your new token, shown this once: copy it now.</p>
<code class="token">${shown.token}</code>
<p>Use it with the CLI: <code>export RELEASEDESK_TOKEN=…</code>, or send <code>Authorization: Bearer …</code>. It acts as you, with your RT groups.</p></div>`
    : ''
}
${shown.error ? html`<p class="error" role="alert">${shown.error}</p>` : ''}
<h2>Personal API tokens</h2>
${
  live.length
    ? html`<table><caption>Your live tokens</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Issued</th><th scope="col">Last used</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>${live.map(
        (t) => html`<tr><td>${t.label}</td><td>${time(t.created_at)}</td><td>${time(t.last_used_at)}</td><td>
<form method="post" action="/account/tokens/${t.id}/revoke" class="inline"><input type="hidden" name="_csrf" value="${user.csrf}">
<button type="submit" aria-label="Revoke token ${t.label}">Revoke</button></form></td></tr>`,
      )}</tbody></table>`
    : html`<p>You have no live token.</p>`
}
<form method="post" action="/account/tokens">
  <input type="hidden" name="_csrf" value="${user.csrf}">
  <label for="label">Name of a new token (where you use it)</label>
  <input type="text" id="label" name="label" maxlength="100" required>
  <p><button type="submit">Issue a token</button></p>
</form>`,
  );
}
