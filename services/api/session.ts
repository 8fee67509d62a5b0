import { randomBytes, timingSafeEqual } from 'node:crypto';
import cookieSession from 'cookie-session';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config/index.ts';
import { RdError } from '../errors.ts';
import { callerOf, sessionKey, type SessionData } from './auth.ts';

export const SESSION_COOKIE = 'releasedesk_session';

/**
 * The console's session: a signed cookie (cookie-session), httpOnly and SameSite=Lax, Secure when the desk is
 * served over https. It holds the user, an expiry inside the signed value (a cookie replayed after it is no
 * session) and the CSRF token of the user's forms.
 */
export function sessions(config: Pick<Config, 'SESSION_SECRET' | 'WEBHOOK_SECRET' | 'PUBLIC_URL' | 'SESSION_MAX_AGE_MS'>): RequestHandler {
  return cookieSession({
    name: SESSION_COOKIE,
    keys: [sessionKey(config)],
    httpOnly: true,
    sameSite: 'lax',
    secure: config.PUBLIC_URL.startsWith('https:'),
    maxAge: config.SESSION_MAX_AGE_MS,
  });
}

/** Signs the user in: a new session (new CSRF token) that lasts SESSION_MAX_AGE_MS. */
export function startSession(req: Request, user: string, maxAgeMs: number): void {
  req.session = { user, exp: Date.now() + maxAgeMs, csrf: randomBytes(24).toString('base64url') } satisfies SessionData;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A change asked for with the session cookie must come from releasedesk's own page: its Origin (when the
 * browser sends one) is this desk's, and it carries the session's CSRF token (form field `_csrf` or header
 * X-CSRF-Token). Bearer requests carry no ambient credential and need neither.
 */
export function csrfGuard(config: Pick<Config, 'PUBLIC_URL'>): RequestHandler {
  return (req, res, next) => {
    if (SAFE.has(req.method)) return next();
    const c = callerOf(res);
    if (c?.kind !== 'user' || c.via !== 'session') return next();
    if (!sameOrigin(req, config.PUBLIC_URL))
      return next(new RdError('RD_CSRF_REFUSED', `${req.method} ${req.path}: sent from ${req.get('origin')}, another site`));
    const given = String(req.get('x-csrf-token') ?? (req.body as { _csrf?: unknown } | undefined)?._csrf ?? '');
    const want = (req.session as SessionData | null)?.csrf ?? '';
    if (!want || given.length !== want.length || !timingSafeEqual(Buffer.from(given), Buffer.from(want)))
      return next(new RdError('RD_CSRF_REFUSED', `${req.method} ${req.path}: the form's token is missing or not this session's`));
    next();
  };
}

/** No Origin (an old browser, a same-origin GET turned POST by a tool) is judged by the token alone. */
export function sameOrigin(req: Request, publicUrl: string): boolean {
  const origin = req.get('origin');
  if (!origin || origin === 'null') return !origin;
  return origin === new URL(publicUrl).origin || origin === `${req.protocol}://${req.get('host')}`;
}
