import type { RequestHandler } from 'express';
import type { Config } from '../../config/index.ts';
import { peerOfToken, sameSecret } from '../bundles/peers.ts';
import { RdError } from '../errors.ts';

/** Who called: an operator's or script's token (API_TOKENS), or another desk (PEERS). */
export type Caller = { kind: 'token' } | { kind: 'peer'; name: string };

/**
 * Endpoints that hand out releases or change state between desks answer only to a bearer token. Sign-in
 * with RT accounts (issue 14) will add people; until then operators use API_TOKENS.
 */
export function requireBearer(config: Pick<Config, 'API_TOKENS' | 'PEERS'>, only?: 'peer'): RequestHandler {
  return (req, res, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!m) return next(new RdError('RD_AUTH_REQUIRED', `${req.method} ${req.path} needs a bearer token`));
    const peer = peerOfToken(config.PEERS, m[1]!);
    const caller: Caller | undefined = peer
      ? { kind: 'peer', name: peer.name }
      : only !== 'peer' && config.API_TOKENS.some((t) => sameSecret(t, m[1]!))
        ? { kind: 'token' }
        : undefined;
    if (!caller) return next(new RdError('RD_AUTH_INVALID', `${req.method} ${req.path}: the bearer token is not accepted here`));
    res.locals.caller = caller;
    next();
  };
}
