import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RdError } from '../errors.ts';

/**
 * Which URLs releasedesk may fetch: http(s) only, and never an address inside our own network
 * (loopback, private, link-local, CGNAT, unspecified, multicast...) unless the operator listed
 * the host in ALLOWED_DOWNLOAD_HOSTS. Uses node's own BlockList, which also matches
 * IPv4-mapped IPv6 (::ffff:10.0.0.1) against the IPv4 rules.
 */
const V4_RANGES: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const V6_RANGES: Array<[string, number, string]> = [
  ['::', 96, 'unspecified, loopback or IPv4-compatible'],
  ['fc00::', 7, 'unique-local (private)'],
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
  ['2001::', 32, 'Teredo'],
];

type Rule = { list: BlockList; why: string };

function buildRules(): Rule[] {
  const rules: Rule[] = [];
  for (const [net, bits, why] of V4_RANGES) {
    const list = new BlockList();
    list.addSubnet(net, bits, 'ipv4');
    // the same range reached through NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::)
    list.addSubnet(`64:ff9b::${net}`, 96 + bits, 'ipv6');
    const hex = net
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('');
    list.addSubnet(`2002:${hex.slice(0, 4)}:${hex.slice(4)}::`, 16 + bits, 'ipv6');
    rules.push({ list, why });
  }
  for (const [net, bits, why] of V6_RANGES) {
    const list = new BlockList();
    list.addSubnet(net, bits, 'ipv6');
    rules.push({ list, why });
  }
  return rules;
}
const RULES = buildRules();

/** Why an address must not be fetched from ("loopback", "private"...), or undefined if it is public. */
export function forbiddenReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return RULES.find((r) => r.list.check(address, type))?.why;
}

/** The host as URL.hostname writes it, without IPv6 brackets or a trailing dot, lower-case. */
export function hostOf(u: URL): string {
  return u.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Canonical form of an allowed-hosts entry, so "0:0::1" matches the URL host "::1". */
function canonicalHost(h: string): string {
  const bare = h
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  try {
    return hostOf(new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`));
  } catch {
    return bare;
  }
}

export function isAllowedHost(u: URL, allowedHosts: readonly string[]): boolean {
  const host = hostOf(u);
  return allowedHosts.some((h) => canonicalHost(h) === host);
}

/** The URL without user:password, for messages that reach a ticket. */
export function redact(u: URL | string): string {
  const copy = new URL(String(u));
  copy.username = '';
  copy.password = '';
  return copy.toString();
}

const forbidden = (url: string, why: string) => new RdError('RD_URL_FORBIDDEN', `${url}: ${why}`, { url, reason: why });

/** Parses the URL and checks its scheme; throws RD_URL_FORBIDDEN. No network. */
export function parseHttpUrl(url: string | URL): URL {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw forbidden(String(url), 'not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw forbidden(redact(u), `scheme ${u.protocol.replace(/:$/, '')} is not allowed, only http and https`);
  }
  return u;
}

/**
 * Throws RD_URL_FORBIDDEN unless every address a fetch could reach is allowed. Resolution errors
 * are thrown as they come (ENOTFOUND, EAI_AGAIN): the caller decides whether they are transient.
 */
export async function checkUrl(url: string | URL, allowedHosts: readonly string[]): Promise<URL> {
  const u = parseHttpUrl(url);
  if (isAllowedHost(u, allowedHosts)) return u;
  const host = hostOf(u);
  if (isLocalhostName(host)) throw loopbackName(redact(u), host);
  const addresses = isIP(host) ? [host] : (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);
  assertPublic(redact(u), host, addresses);
  return u;
}

/** *.localhost names are this machine (RFC 6761) whatever the resolver says, or does not say, about them. */
const isLocalhostName = (host: string) => host.endsWith('.localhost');
const loopbackName = (url: string, host: string) =>
  forbidden(
    url,
    `${host} is a loopback name (every *.localhost name is this machine); add the host to ALLOWED_DOWNLOAD_HOSTS if it is trusted`,
  );

function assertPublic(url: string, host: string, addresses: readonly string[]): void {
  for (const address of addresses) {
    const why = forbiddenReason(address);
    if (why === undefined) continue;
    const via = address === host ? `${host} is` : `${host} resolves to ${address},`;
    const a = /^[aeiou]/i.test(why) ? 'an' : 'a';
    throw forbidden(url, `${via} ${a} ${why} address; add the host to ALLOWED_DOWNLOAD_HOSTS if it is trusted`);
  }
}

type LookupEntry = { address: string; family: number };

/**
 * A `lookup` for the HTTP client that applies the same policy at connect time, on the very
 * addresses the socket will use, so a DNS answer that changes after checkUrl (rebinding) is
 * refused too. `onRefused` receives the RdError; the HTTP client only sees a generic failure.
 */
export function guardedLookup(allowedHosts: readonly string[], onRefused: (e: RdError) => void) {
  return async (hostname: string, opts: { family?: number } = {}): Promise<LookupEntry[]> => {
    const family = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    const u = new URL(`http://${isIP(hostname) === 6 ? `[${hostname}]` : hostname}/`);
    const allowed = isAllowedHost(u, allowedHosts);
    try {
      if (!allowed && isLocalhostName(hostOf(u))) throw loopbackName(hostname, hostOf(u));
      const found = await dnsLookup(hostname, { all: true, verbatim: true, family });
      if (!allowed)
        assertPublic(
          hostname,
          hostOf(u),
          found.map((a) => a.address),
        );
      return found;
    } catch (e) {
      if (e instanceof RdError) onRefused(e);
      throw e;
    }
  };
}
