/**
 * The other desks this one exchanges bundles and statuses with (PEERS): each pair shares a secret, sent as
 * a bearer token, so either side knows which desk is calling. Pure.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Peer } from '../../config/index.ts';

/** The Authorization header for a URL under a peer's base URL; nothing for any other URL. */
export function peerAuthorization(peers: readonly Peer[]): (url: URL) => string | undefined {
  return (url) => {
    const peer = peerOfUrl(peers, url.href);
    return peer ? `Bearer ${peer.secret}` : undefined;
  };
}

/** The peer whose base URL `href` is under (same origin, path below its path). */
export function peerOfUrl(peers: readonly Peer[], href: string): Peer | undefined {
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    return undefined;
  }
  return peers.find((p) => {
    const base = new URL(`${p.url}/`);
    return base.origin === u.origin && `${u.pathname}`.startsWith(base.pathname);
  });
}

/** The peer a bearer token belongs to, compared in constant time. */
export function peerOfToken(peers: readonly Peer[], token: string): Peer | undefined {
  return peers.find((p) => sameSecret(p.secret, token));
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
