import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config/index.ts';
import { peerOfToken, sameSecret } from '../bundles/peers.ts';
import { userOfToken } from '../db/api-tokens.ts';
import type { Db } from '../db/knex.ts';
import { RdError } from '../errors.ts';
import type { Helpdesk } from '../helpdesk/port.ts';
import { groupNames, resolveRoles } from '../helpdesk/roles.ts';
import type { Role } from '../workflow/transitions.ts';

/**
 * Who called. RT is the identity provider: a person signs in with their RT account (a session cookie, or a
 * personal token they issued for the CLI), and their roles are their RT groups, as for ticket actions. An
 * operator's token (API_TOKENS) has every right; another desk (PEERS) only the calls between desks.
 */
export type Caller = { kind: 'token' } | { kind: 'peer'; name: string } | { kind: 'user'; name: string; via: 'session' | 'token' };

/** What the service knows of RT for sign-in and roles; without it only tokens are accepted. */
export type Identity = Pick<Helpdesk, 'checkPassword' | 'userGroups' | 'getUserEmail' | 'getTicket'>;

export interface AuthDeps {
  db: Db;
  config: Pick<Config, 'API_TOKENS' | 'PEERS' | 'PUBLIC_READS' | 'ADMIN_GROUP' | 'TECHNOLOGY_UNIT_GROUP' | 'ROLLOUT_GROUP'>;
  helpdesk?: Identity;
}

/** The session cookie's content (cookie-session signs it; the expiry is ours, inside the signed value). */
export interface SessionData {
  user?: string;
  exp?: number;
  csrf?: string;
}

export const PERSONAL_TOKEN_PREFIX = 'rdp_';
export const newPersonalToken = () => `${PERSONAL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
export const tokenDigest = (token: string) => createHash('sha256').update(token).digest('hex');

/** SESSION_SECRET, or one derived from WEBHOOK_SECRET so that a desk configured before sign-in existed starts. */
export const sessionKey = (config: Pick<Config, 'SESSION_SECRET' | 'WEBHOOK_SECRET'>) =>
  config.SESSION_SECRET ?? createHmac('sha256', config.WEBHOOK_SECRET).update('releasedesk session cookies').digest('hex');

/**
 * Resolves the caller once per request (res.locals.caller); refuses nothing but a bearer token nobody issued.
 * A session past its expiry, or a cookie whose signature does not verify, is no session: anonymous.
 */
export function identify(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    try {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (bearer) {
        res.locals.caller = await bearerCaller(deps, bearer);
        if (!res.locals.caller) throw new RdError('RD_AUTH_INVALID', `${req.method} ${req.path}: the bearer token is not accepted here`);
      } else {
        const s = req.session as SessionData | null | undefined;
        if (s?.user && s.exp && s.exp > Date.now()) res.locals.caller = { kind: 'user', name: s.user, via: 'session' } satisfies Caller;
      }
      next();
    } catch (e) {
      next(e);
    }
  };
}

async function bearerCaller(deps: AuthDeps, token: string): Promise<Caller | undefined> {
  const peer = peerOfToken(deps.config.PEERS, token);
  if (peer) return { kind: 'peer', name: peer.name };
  if (deps.config.API_TOKENS.some((t) => sameSecret(t, token))) return { kind: 'token' };
  if (!token.startsWith(PERSONAL_TOKEN_PREFIX)) return undefined;
  const user = await userOfToken(deps.db, tokenDigest(token));
  return user ? { kind: 'user', name: user, via: 'token' } : undefined;
}

export const callerOf = (res: { locals: Record<string, unknown> }) => res.locals.caller as Caller | undefined;

const signInNeeded = (req: Request) =>
  new RdError('RD_SIGNIN_REQUIRED', `${req.method} ${req.path} needs a signed-in user (GET /login) or a bearer token`);

/** Release views: for anyone when PUBLIC_READS, else for signed-in people and tokens. */
export function requireReader(deps: AuthDeps): RequestHandler {
  return (req, res, next) => next(deps.config.PUBLIC_READS || callerOf(res) ? undefined : signInNeeded(req));
}

/** Admin operations: an operator's token, or a member of ADMIN_GROUP. */
export function requireAdmin(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    try {
      const c = callerOf(res);
      if (!c || c.kind === 'peer') throw signInNeeded(req);
      if (c.kind === 'user' && !(await rolesOf(deps, c.name)).admin)
        throw new RdError(
          'RD_ADMIN_REQUIRED',
          `${c.name} may not ${req.method} ${req.path}: only members of group ${deps.config.ADMIN_GROUP} may`,
        );
      next();
    } catch (e) {
      next(e);
    }
  };
}

/** Bundle export and the calls between desks: tokens and peers (only peers with `only`), not people. */
export function requireBearer(only?: 'peer'): RequestHandler {
  return (req, res, next) => {
    const c = callerOf(res);
    if (!c) return next(new RdError('RD_AUTH_REQUIRED', `${req.method} ${req.path} needs a bearer token`));
    if (c.kind === 'user' || (only === 'peer' && c.kind !== 'peer'))
      return next(new RdError('RD_AUTH_INVALID', `${req.method} ${req.path}: the bearer token is not accepted here`));
    next();
  };
}

export interface UserRoles {
  groups: string[];
  /** the workflow roles their groups give (provider is per ticket: see mayAct) */
  roles: Role[];
  admin: boolean;
}

/** A person's RT groups as roles (read as ticket actions read them). */
export async function rolesOf(deps: AuthDeps, name: string): Promise<UserRoles> {
  if (!deps.helpdesk) return { groups: [], roles: [], admin: false };
  const groups = await deps.helpdesk.userGroups(name);
  const byGroup = groupNames(deps.config);
  const roles = (Object.keys(byGroup) as Array<keyof typeof byGroup>).filter((r) => groups.includes(byGroup[r]));
  return { groups, roles, admin: groups.includes(deps.config.ADMIN_GROUP) };
}

/**
 * Whether the caller may act as one of `allowed` on the ticket: an operator's token and admins may; a person
 * by their groups, or as the ticket's requestor for the provider role (their RT e-mail among its requestors).
 */
export async function mayAct(deps: AuthDeps, caller: Caller, allowed: readonly Role[], ticket: number): Promise<boolean> {
  if (caller.kind === 'token') return true;
  if (caller.kind === 'peer' || !deps.helpdesk) return false;
  if ((await rolesOf(deps, caller.name)).admin) return true;
  // the engine's own policy: a provider is a requestor of the ticket, the other roles are RT groups
  const roles = await resolveRoles(deps.helpdesk, caller.name, await deps.helpdesk.getTicket(ticket), groupNames(deps.config));
  return roles.some((r) => allowed.includes(r));
}
