import { describe, expect, it } from 'vitest';
import { RdError } from '../../../services/errors.ts';
import { checkUrl, forbiddenReason, guardedLookup } from '../../../services/artifacts/url-policy.ts';

const refused = async (p: Promise<unknown>): Promise<RdError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RdError);
  return e as RdError;
};

describe('forbiddenReason', () => {
  const cases: Array<[string, string | undefined]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'unspecified, loopback or IPv4-compatible'],
    ['::', 'unspecified, loopback or IPv4-compatible'],
    ['fc00::1', 'unique-local (private)'],
    ['fd12:3456::1', 'unique-local (private)'],
    ['fe80::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.1.1', 'link-local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    // public
    ['8.8.8.8', undefined],
    ['172.32.0.1', undefined],
    ['100.128.0.1', undefined],
    ['192.169.0.1', undefined],
    ['::ffff:8.8.8.8', undefined],
    ['2606:4700:4700::1111', undefined],
    ['64:ff9b::8.8.8.8', undefined],
  ];
  it.each(cases)('%s -> %s', (address, why) => {
    expect(forbiddenReason(address)).toBe(why);
  });
});

describe('checkUrl', () => {
  it.each(['file:///etc/passwd', 'ftp://example.org/a.rpm', 'data:text/plain,hi', 'gopher://x/', 'not a url'])(
    'refuses %s',
    async (url) => {
      const e = await refused(checkUrl(url, []));
      expect(e.code).toBe('RD_URL_FORBIDDEN');
      expect(e.message).toContain(url === 'not a url' ? 'not a valid URL' : 'only http and https');
    },
  );

  it('refuses loopback and private literals, naming the URL and why', async () => {
    const e = await refused(checkUrl('http://127.0.0.1:9/a.rpm', []));
    expect(e.code).toBe('RD_URL_FORBIDDEN');
    expect(e.message).toBe(
      'http://127.0.0.1:9/a.rpm: 127.0.0.1 is a loopback address; add the host to ALLOWED_DOWNLOAD_HOSTS if it is trusted',
    );
    for (const u of [
      'http://10.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest',
      'http://0.0.0.0/',
      'http://2130706433/',
      'http://0x7f.1/',
    ]) {
      expect((await refused(checkUrl(u, []))).code).toBe('RD_URL_FORBIDDEN');
    }
  });

  it('refuses a name that resolves to loopback, even when its address is allowed', async () => {
    const e = await refused(checkUrl('http://localhost:8080/a.rpm', ['127.0.0.1']));
    expect(e.code).toBe('RD_URL_FORBIDDEN');
    expect(e.message).toContain('localhost resolves to 127.0.0.1, a loopback address');
  });

  it('refuses *.localhost names as loopback without asking DNS (many resolvers do not know them)', async () => {
    const e = await refused(checkUrl('http://evil.localhost:8080/a.rpm', ['127.0.0.1']));
    expect(e.message).toBe(
      'http://evil.localhost:8080/a.rpm: evil.localhost is a loopback name (every *.localhost name is this machine); add the host to ALLOWED_DOWNLOAD_HOSTS if it is trusted',
    );
    expect((await refused(checkUrl('http://A.B.LOCALHOST./x', []))).code).toBe('RD_URL_FORBIDDEN');
    await expect(checkUrl('http://repo.localhost/a.rpm', ['repo.localhost'])).resolves.toBeInstanceOf(URL);
  });

  it('writes "an" before a reason that starts with a vowel', async () => {
    expect((await refused(checkUrl('http://0.0.0.0/a.rpm', []))).message).toContain('0.0.0.0 is an unspecified address');
  });

  it('allows a listed host, as written, case-insensitively, IPv6 in any spelling', async () => {
    await expect(checkUrl('http://127.0.0.1:8080/a.rpm', ['127.0.0.1'])).resolves.toBeInstanceOf(URL);
    await expect(checkUrl('http://LocalHost/a.rpm', ['localhost'])).resolves.toBeInstanceOf(URL);
    await expect(checkUrl('http://localhost./a.rpm', ['LOCALHOST'])).resolves.toBeInstanceOf(URL);
    await expect(checkUrl('http://[::1]/a.rpm', ['0:0:0:0:0:0:0:1'])).resolves.toBeInstanceOf(URL);
    await expect(checkUrl('https://10.1.1.1/a.rpm', ['[10.1.1.1]', '10.1.1.1'])).resolves.toBeInstanceOf(URL);
  });

  it('passes a public literal without DNS', async () => {
    await expect(checkUrl('https://8.8.8.8/a.rpm', [])).resolves.toBeInstanceOf(URL);
  });
});

describe('guardedLookup (the connect-time check against DNS rebinding)', () => {
  it('refuses a name resolving to loopback and reports the RdError', async () => {
    let seen: RdError | undefined;
    const lookup = guardedLookup([], (e) => (seen = e));
    const e = await refused(lookup('localhost'));
    expect(e.code).toBe('RD_URL_FORBIDDEN');
    expect(seen).toBe(e);
  });

  it('refuses a *.localhost name before any lookup', async () => {
    let seen: RdError | undefined;
    const e = await refused(guardedLookup([], (x) => (seen = x))('evil.localhost'));
    expect(e.message).toContain('evil.localhost is a loopback name');
    expect(seen).toBe(e);
  });

  it('lets an allowed name through with all its addresses', async () => {
    const lookup = guardedLookup(['localhost'], () => undefined);
    expect(await lookup('localhost')).toContainEqual({ address: '127.0.0.1', family: 4 });
  });
});
