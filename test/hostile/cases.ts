/**
 * The hostile-input corpus: each case is data — what to send, and what the user must see. The runner
 * (hostile.test.ts) is generic; it also checks, for every case, that nothing was written outside STORAGE_DIR,
 * nothing was half-published and the service still answers GET /healthz.
 *
 * Ticket cases: `actor` (default provider1) opens a ticket requested by provider1 with the input as release.xml and
 * RepoAction=MoveToUnverified set.
 * HTTP cases: the request is POSTed to /webhooks/rt.
 *
 * The test service runs with MAX_BUNDLE_ENTRIES=1000, MAX_BUNDLE_BYTES=32 MiB, MAX_DOWNLOAD_BYTES=8 MiB,
 * DOWNLOAD_TIMEOUT_MS=2000 and ALLOWED_DOWNLOAD_HOSTS=127.0.0.1 (the provider stand-in's address only).
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { sign } from '../../services/api/signature.ts';
import type { ErrorCode } from '../../services/errors.ts';
import { filesUnder } from '../support/e2e.ts';
import {
  afterDeclaration,
  bundles,
  bundleXml,
  edited,
  event,
  fromUrl,
  goodXml,
  onHost,
  openTicket,
  PKG,
  rawRoute,
  route,
  sha,
  signed,
  type WebhookRequest,
  type World,
  until,
} from './inputs.ts';

export type Kind = 'xml' | 'bundle' | 'url' | 'webhook' | 'actor';
/** What the message must also say: the element and line, the file, the entry, the URL and why. */
type Says = RegExp[] | ((w: World) => RegExp[]);

export type TicketExpect =
  /** RepoStatus Failed, and a comment `[code] ...` that says all of `says`, none of `never`, and What to do */
  | { failed: ErrorCode; says: Says; never?: RegExp[] }
  /** a refusal comment `[code] ...`; the release stays where it was (New) */
  | { refused: ErrorCode; says: Says }
  /** it must work: RepoStatus Unverified, then the case's own checks */
  | { unverified: (w: World, ticket: number) => Promise<void> };

export interface TicketCase {
  kind: Exclude<Kind, 'webhook'>;
  name: string;
  /** the release.xml attached to the ticket */
  xml: (w: World) => string | Buffer | Promise<string | Buffer>;
  /** who opens the ticket with RepoAction set (default provider1, its requestor) */
  actor?: 'tug1' | 'rollout1';
  /** the failure is transient: the runner fast-forwards BullMQ's retries to the final attempt */
  transient?: true;
  /** opens its ticket once every other case's ticket exists: its upload keeps RT busy for seconds */
  alone?: true;
  expect: TicketExpect;
}

/** A webhook request, and the ticket / transaction it names (for the checks that follow). */
export type Sent = WebhookRequest & { ticket: number; transaction: number };

export interface HttpCase {
  kind: 'webhook' | 'actor';
  name: string;
  /** the service misbehaves here and the fix is outside this suite's reach: the case must fail until it is fixed */
  knownBug?: string;
  send: (w: World) => Sent | Promise<Sent>;
  expect: {
    http: number;
    /** `error` of the JSON answer, and what its message says */
    error?: ErrorCode;
    says?: RegExp[];
    answer?: Record<string, unknown>;
    /** nothing persisted | the one row of the original delivery | persisted, then ignored by the worker (why) */
    after: 'nothing' | 'duplicate' | { ignored: RegExp };
  };
}

export type Case = TicketCase | HttpCase;
export const isTicketCase = (c: Case): c is TicketCase => 'xml' in c;

const LINE = (n: number) => new RegExp(`release\\.xml line ${n}:`);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ------------------------------------------------------------------------------------------------ XML

const LOL = `<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  ${Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 2} "${`&lol${i || ''};`.repeat(10)}">`).join('\n  ')}
]>`;

const xml: TicketCase[] = [
  {
    kind: 'xml',
    name: 'DOCTYPE',
    xml: (w) => afterDeclaration(w, '<!DOCTYPE release:release>'),
    expect: { failed: 'RD_XML_FORBIDDEN', says: [LINE(2), /<!DOCTYPE> is not allowed/] },
  },
  {
    kind: 'xml',
    name: 'external entity (SYSTEM file:///etc/passwd)',
    xml: (w) => afterDeclaration(w, '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>').replace('Test release', '&x;'),
    expect: { failed: 'RD_XML_FORBIDDEN', says: [LINE(2), /DOCTYPE/], never: [/root:/] },
  },
  {
    kind: 'xml',
    name: 'billion laughs',
    xml: (w) => afterDeclaration(w, LOL).replace('Test release', '&lol9;'),
    expect: { failed: 'RD_XML_FORBIDDEN', says: [LINE(2), /DOCTYPE/], never: [/lollol/] },
  },
  {
    kind: 'xml',
    name: 'entity reference without a DOCTYPE',
    xml: (w) => edited(w, 'Test release', '&lol9;'),
    expect: { failed: 'RD_XML_MALFORMED', says: [LINE(9), /<release:description>/, /&lol9;, which is not defined/] },
  },
  {
    kind: 'xml',
    name: 'deep nesting (50,000 levels)',
    xml: (w) =>
      edited(
        w,
        '<release:description>Test release</release:description>',
        `<release:description>\n${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}</release:description>`,
      ),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(10), /nest deeper than 32 levels/] },
  },
  {
    kind: 'xml',
    name: 'a 50 MB text node',
    alone: true,
    xml: (w) => edited(w, 'Test release', 'A'.repeat(50 * 2 ** 20)),
    expect: { failed: 'RD_XML_INVALID', says: [/release\.xml: the file has 524\d{5} bytes/, /limited to 1048576 bytes/] },
  },
  {
    kind: 'xml',
    name: 'wrong namespace',
    xml: (w) => goodXml(w).replaceAll('http://repo.egi.eu/0.2/release', 'http://repo.egi.eu/0.1/release'),
    expect: {
      failed: 'RD_XML_NAMESPACE',
      says: [LINE(2), /<release:release> is in the namespace "http:\/\/repo\.egi\.eu\/0\.1\/release"/],
    },
  },
  {
    kind: 'xml',
    name: 'XInclude of a local file',
    xml: (w) =>
      edited(
        w,
        '<release:description>Test release</release:description>',
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>',
      ),
    expect: { failed: 'RD_XML_NAMESPACE', says: [LINE(9), /<xi:include>/, /XInclude/], never: [/root:/] },
  },
  {
    kind: 'xml',
    name: 'bad ISODate (month 13)',
    xml: (w) => edited(w, '20261115', '20261345'),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(11), /<release:ISODate> "20261345" is not a date in YYYYMMDD form/] },
  },
  {
    kind: 'xml',
    name: 'version 2.10 stays "2.10" (not 2.1)',
    xml: (w) =>
      goodXml(
        w,
        { filename: w.v210.filename, version: '2.10', url: `${w.e.provider.url}/v210/${w.v210.filename}`, sha256: w.v210.sha256 },
        { version: ['2', '10', '0'] },
      ),
    expect: { unverified: checkVersion210 },
  },
  {
    kind: 'xml',
    name: 'control character in productName',
    xml: (w) => edited(w, '<release:productName>TESTTP', '<release:productName>TEST\u0001TP'),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(3), /<release:productName>/, /control character U\+0001/] },
  },
  {
    kind: 'xml',
    name: 'C1 control character (U+0085) in productName',
    xml: (w) => edited(w, '<release:productName>TESTTP', '<release:productName>TEST\u0085TP'),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(3), /control character U\+0085/], never: [/\u0085/] },
  },
  {
    kind: 'xml',
    name: 'Cyrillic "а" in productShortName',
    xml: (w) => edited(w, '<release:productShortName>TESTTP', '<release:productShortName>TESTTP\u0430'),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(4), /<release:productShortName>/, /character 7 is U\+0430, which is not ASCII/] },
  },
  {
    kind: 'xml',
    name: 'Cyrillic "е" in pkgname',
    xml: (w) => goodXml(w, { pkgname: 't\u0435stpkg' }),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(26), /attribute pkgname/, /character 2 is U\+0435, which is not ASCII/] },
  },
  {
    kind: 'xml',
    name: 'Cyrillic lookalike in productName',
    xml: (w) => edited(w, '<release:productName>TESTTP', '<release:productName>TESTT\u0420'),
    expect: {
      failed: 'RD_XML_INVALID',
      says: [LINE(3), /<release:productName>/, /mixes Latin and Cyrillic letters: character 6 is the Cyrillic U\+0420/],
    },
  },
  {
    kind: 'xml',
    name: 'bidi override in productName',
    xml: (w) => edited(w, '<release:productName>TESTTP', '<release:productName>TESTTP\u202Egpj.exe'),
    expect: {
      failed: 'RD_XML_INVALID',
      says: [LINE(3), /character 7 is U\+202E, an invisible formatting character/, /\\u202e/],
      never: [/\u202E/],
    },
  },
  {
    kind: 'xml',
    name: 'two releases in one file (two root elements)',
    xml: (w) => goodXml(w) + goodXml(w).replace('<?xml version="1.0" ?>\n', ''),
    expect: { failed: 'RD_XML_MALFORMED', says: [LINE(30), /a second root element; one file holds exactly one release/] },
  },
  {
    kind: 'xml',
    name: 'not UTF-8 (UTF-16 with BOM)',
    xml: (w) => Buffer.from(`\uFEFF${goodXml(w)}`, 'utf16le'),
    expect: { failed: 'RD_XML_MALFORMED', says: [LINE(1), /not UTF-8 text/] },
  },
  {
    kind: 'xml',
    name: 'targetArch longer than stored (60 characters)',
    xml: (w) => edited(w, '<UMDmeta:targetArch>noarch', `<UMDmeta:targetArch>${'x'.repeat(60)}`),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(23), /<UMDmeta:targetArch>/, /a name of 1-50/] },
  },
  {
    kind: 'xml',
    name: 'package version longer than stored (120 characters)',
    xml: (w) => goodXml(w, { version: '1'.repeat(120) }),
    expect: { failed: 'RD_XML_INVALID', says: [LINE(26), /attribute version/, /a package version of 1-100/] },
  },
];

async function checkVersion210(w: World, ticket: number): Promise<void> {
  const rel = await w.e.svc.db('releases').where({ ticket_id: ticket }).first();
  expect(rel).toMatchObject({ status: 'Unverified', version: '2.10.0' });
  expect(rel.metadata).toMatchObject({ majorVersion: '2', minorVersion: '10', version: '2.10.0' });
  const pkgs = await w.e.svc.db('packages').where({ release_id: rel.id });
  expect(pkgs.map((p) => [p.filename, p.version])).toEqual([[w.v210.filename, '2.10']]);
  // what dnf reads: the repository index
  const repo = `${w.e.svc.storage}/repos/unverified/${w.product}`;
  const primary = (await filesUnder(repo)).find((f) => /primary\.xml\.gz$/.test(f));
  expect(primary, 'primary.xml.gz in the Unverified repository').toBeDefined();
  expect(gunzipSync(await readFile(`${repo}/${primary}`)).toString()).toContain('<version epoch="0" ver="2.10" rel="1"/>');
}

// ------------------------------------------------------------------------------------------------ bundles

const ENTRY = (name: string) => new RegExp(`bundle entry "${esc(name)}"`);

const bundle: TicketCase[] = [
  {
    kind: 'bundle',
    name: 'zip-slip (../ up to the canary)',
    xml: (w) => bundleXml(w, bundles.slip(w)),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: [/bundle entry "(\.\.\/){12}.*rd-canary-\w+\/escape\.rpm"/, /has a "\.\." path segment/] },
  },
  {
    kind: 'bundle',
    name: 'absolute path into the canary',
    xml: (w) => bundleXml(w, bundles.absolute(w)),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: (w) => [ENTRY(`${w.canary}/absolute.rpm`), /has an absolute path/] },
  },
  {
    kind: 'bundle',
    name: 'symlink escaping to the canary',
    xml: (w) => bundleXml(w, bundles.symlink(w)),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: (w) => [new RegExp(`bundle entry "rpm" is a symbolic link \\(to "${esc(w.canary)}"\\)`)] },
  },
  {
    kind: 'bundle',
    name: 'hard link escaping to the canary',
    xml: (w) => bundleXml(w, bundles.hardlink(w)),
    expect: {
      failed: 'RD_BUNDLE_UNSAFE',
      says: (w) => [ENTRY(`rpm/${PKG}`), new RegExp(`is a hard link \\(to "${esc(w.canary)}/hardlink-target"\\)`)],
    },
  },
  {
    kind: 'bundle',
    name: 'character device',
    xml: (w) => bundleXml(w, bundles.device()),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: [ENTRY('rpm/null'), /is a character device/] },
  },
  {
    kind: 'bundle',
    name: 'tar bomb by entry count (1,001 entries)',
    xml: (w) => bundleXml(w, bundles.entries(1001)),
    expect: { failed: 'RD_BUNDLE_LIMIT', says: [/the bundle has more than 1000 entries/] },
  },
  {
    kind: 'bundle',
    name: 'tar bomb by size (40 x 1 MiB of zeros)',
    xml: (w) => bundleXml(w, bundles.size(40, 2 ** 20)),
    expect: { failed: 'RD_BUNDLE_LIMIT', says: [/unpacks to more than 33554432 bytes \(at "big\/z32"\)/] },
  },
  {
    kind: 'bundle',
    name: 'tar bomb by declared size (64 GiB header)',
    xml: (w) => bundleXml(w, bundles.declared(64 * 2 ** 30)),
    expect: { failed: 'RD_BUNDLE_LIMIT', says: [/unpacks to more than 33554432 bytes \(at "huge\.bin"\)/] },
  },
  {
    kind: 'bundle',
    name: 'gzip bomb (48 MB of pax metadata in no entry)',
    xml: (w) => bundleXml(w, bundles.paxPadding(800)),
    expect: { failed: 'RD_BUNDLE_LIMIT', says: [/the bundle unpacks to more than 33554432 bytes/] },
  },
  {
    kind: 'bundle',
    name: 'gzip inside gzip',
    xml: (w) => bundleXml(w, bundles.nested()),
    expect: { failed: 'RD_BUNDLE_CORRUPT', says: [/the tar inside is compressed again/] },
  },
  {
    kind: 'bundle',
    name: 'truncated gzip stream',
    xml: (w) => bundleXml(w, bundles.truncatedGzip(w)),
    expect: { failed: 'RD_BUNDLE_CORRUPT', says: [/gzip: unexpected end of file/] },
  },
  {
    kind: 'bundle',
    name: 'duplicate entries',
    xml: (w) => bundleXml(w, bundles.duplicate(w)),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: [ENTRY(`rpm/${PKG}`), /appears more than once/] },
  },
  {
    kind: 'bundle',
    name: 'the package twice, in two folders',
    xml: (w) => bundleXml(w, bundles.ambiguous(w)),
    expect: { failed: 'RD_BUNDLE_UNSAFE', says: [ENTRY(PKG), /is ambiguous: el9\/\S+, el8\/\S+ have that name/] },
  },
  {
    kind: 'bundle',
    name: 'a package that is random bytes',
    xml: (w) => bundleXml(w, bundles.notAPackage()),
    expect: { failed: 'RD_PACKAGE_UNREADABLE', says: [new RegExp(`${esc(PKG)}: not a readable RPM package`)] },
  },
  {
    kind: 'bundle',
    name: 'another package under the name',
    xml: (w) => bundleXml(w, bundles.otherPackage(w)),
    expect: { failed: 'RD_PACKAGE_MISMATCH', says: [new RegExp(esc(PKG)), /header says name testpkg-dep, release\.xml says testpkg/] },
  },
];

// ------------------------------------------------------------------------------------------------ URLs

const forbidden = (url: RegExp, why: RegExp): TicketExpect => ({ failed: 'RD_URL_FORBIDDEN', says: [url, why, /ALLOWED_DOWNLOAD_HOSTS/] });

const url: TicketCase[] = [
  {
    kind: 'url',
    name: 'file:// package url',
    xml: (w) => fromUrl(w, 'file:///etc/passwd'),
    expect: {
      failed: 'RD_XML_INVALID',
      says: [LINE(26), /attribute url "file:\/\/\/etc\/passwd" is not an http\(s\) URL/],
      never: [/root:/],
    },
  },
  {
    kind: 'url',
    name: 'ftp:// synchURL',
    xml: (w) => goodXml(w, { url: undefined, sha256: undefined }, { synchURL: 'ftp://127.0.0.1/bundle.tar.gz' }),
    expect: {
      failed: 'RD_XML_INVALID',
      says: [LINE(20), /<release:synchURL> "ftp:\/\/127\.0\.0\.1\/bundle\.tar\.gz" is not n\/a or an http\(s\) URL/],
    },
  },
  {
    kind: 'url',
    name: 'private address 10.0.0.1',
    xml: (w) => fromUrl(w, `http://10.0.0.1/rpm/${PKG}`),
    expect: forbidden(/http:\/\/10\.0\.0\.1\/rpm/, /10\.0\.0\.1 is a private address/),
  },
  {
    kind: 'url',
    name: 'private address 192.168.1.10',
    xml: (w) => fromUrl(w, `http://192.168.1.10/rpm/${PKG}`),
    expect: forbidden(/192\.168\.1\.10/, /a private address/),
  },
  {
    kind: 'url',
    name: 'cloud metadata 169.254.169.254',
    xml: (w) => fromUrl(w, 'http://169.254.169.254/latest/meta-data/x.rpm'),
    expect: forbidden(/169\.254\.169\.254\/latest\/meta-data/, /a link-local address/),
  },
  {
    kind: 'url',
    name: 'IPv6 loopback [::1]',
    xml: (w) => fromUrl(w, onHost(w, '[::1]')),
    expect: forbidden(/http:\/\/\[::1\]:\d+\/rpm/, /::1 is an? .*loopback/),
  },
  {
    kind: 'url',
    name: 'IPv4-mapped loopback [::ffff:127.0.0.1]',
    xml: (w) => fromUrl(w, onHost(w, '[::ffff:127.0.0.1]')),
    expect: forbidden(/\[::ffff:7f00:1\]/, /is a loopback address/),
  },
  {
    kind: 'url',
    name: '0.0.0.0 (reaches this machine)',
    xml: (w) => fromUrl(w, onHost(w, '0.0.0.0')),
    expect: forbidden(/0\.0\.0\.0/, /is an unspecified address/),
  },
  {
    kind: 'url',
    name: 'redirect to the cloud metadata address',
    xml: (w) => fromUrl(w, route(w, { redirect: 'http://169.254.169.254/latest/meta-data/iam' })),
    expect: forbidden(/http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam/, /a link-local address/),
  },
  {
    kind: 'url',
    name: 'localhost, resolving to the allowed 127.0.0.1',
    xml: (w) => fromUrl(w, onHost(w, 'localhost')),
    expect: forbidden(/http:\/\/localhost:\d+\/rpm/, /localhost resolves to 127\.0\.0\.1, a loopback address/),
  },
  {
    kind: 'url',
    name: 'a *.localhost name',
    xml: (w) => fromUrl(w, onHost(w, 'evil.localhost')),
    expect: forbidden(/http:\/\/evil\.localhost:\d+\/rpm/, /evil\.localhost is a loopback name/),
  },
  {
    kind: 'url',
    name: 'slow-loris body (20 bytes per second)',
    transient: true,
    // 20 bytes/s in 5-byte sips: never idle for the 2 s idle timeout, far below the 1 KiB/s floor
    xml: (w) => fromUrl(w, route(w, { body: Buffer.alloc(100_000, 1), intervalMs: 250, chunkSize: 5 })),
    expect: {
      failed: 'RD_DOWNLOAD_UNAVAILABLE',
      says: (w) => [
        new RegExp(
          `GET ${esc(w.e.provider.url)}/routes/${w.slug}\\.rpm: only \\d+ bytes in 4000 ms, slower than the minimum of 1024 bytes/s`,
        ),
        /gave up after 4 attempts/,
      ],
    },
  },
  {
    kind: 'url',
    name: 'server that never answers',
    transient: true,
    xml: (w) => fromUrl(w, route(w, { body: 'x', headersDelayMs: 3_600_000 })),
    expect: { failed: 'RD_DOWNLOAD_UNAVAILABLE', says: (w) => [new RegExp(`/routes/${w.slug}\\.rpm: no answer for 2000 ms`)] },
  },
  {
    kind: 'url',
    name: 'endless body',
    xml: (w) => fromUrl(w, route(w, { endless: true, contentLength: null })),
    expect: {
      failed: 'RD_DOWNLOAD_TOO_LARGE',
      says: (w) => [new RegExp(`GET \\S+/routes/${w.slug}\\.rpm: more than 8388608 bytes exceeds the limit`)],
    },
  },
  {
    kind: 'url',
    name: 'Content-Length over the limit',
    xml: (w) => fromUrl(w, rawRoute(w, 2 ** 40, Buffer.from('x'))),
    expect: { failed: 'RD_DOWNLOAD_TOO_LARGE', says: [/Content-Length 1099511627776 exceeds the limit of 8388608 bytes/] },
  },
  {
    kind: 'url',
    name: 'Content-Length longer than the body',
    transient: true,
    xml: (w) => fromUrl(w, rawRoute(w, 9000, Buffer.alloc(5000, 1))),
    expect: {
      failed: 'RD_DOWNLOAD_UNAVAILABLE',
      says: (w) => [new RegExp(`/routes/${w.slug}\\.rpm: got 5000 bytes, Content-Length said 9000`)],
    },
  },
  {
    kind: 'url',
    name: 'Content-Length shorter than the body',
    xml: (w) => goodXml(w, { url: rawRoute(w, 100, Buffer.alloc(5000, 2)), sha256: sha(Buffer.alloc(5000, 2)) }),
    expect: {
      failed: 'RD_DIGEST_MISMATCH',
      says: (w) => [new RegExp(`${w.slug}\\.rpm: sha256 [0-9a-f]{64}, expected ${sha(Buffer.alloc(5000, 2))}`)],
    },
  },
];

// ------------------------------------------------------------------------------------------------ webhooks

const webhook: HttpCase[] = [
  {
    kind: 'webhook',
    name: 'no signature',
    send: (w) => ({ ...unsigned(w), ticket: w.unique, transaction: w.unique }),
    expect: { http: 401, error: 'RD_SIGNATURE_MISSING', says: [/X-RT-Signature header missing/], after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'signed with another secret',
    send: (w) => {
      const r = unsigned(w);
      return {
        ...r,
        headers: { ...r.headers, 'x-rt-signature': sign(r.body, 'another-secret-0123456789abcdef') },
        ticket: w.unique,
        transaction: w.unique,
      };
    },
    expect: { http: 401, error: 'RD_SIGNATURE_INVALID', says: [/does not match the body/], after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'body changed after signing',
    send: (w) => {
      const r = signed(event({ ticket_id: w.unique, transaction_id: w.unique }));
      return { ...r, body: String(r.body).replace('"MoveToUnverified"', '"MoveToProduction"'), ticket: w.unique, transaction: w.unique };
    },
    expect: { http: 401, error: 'RD_SIGNATURE_INVALID', after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'oversized body (70 KiB)',
    send: (w) => ({
      ...signed(event({ ticket_id: w.unique, transaction_id: w.unique, subject: 'x'.repeat(70 * 1024) })),
      ticket: w.unique,
      transaction: w.unique,
    }),
    expect: { http: 413, error: 'RD_PAYLOAD_TOO_LARGE', after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'wrong content type (signed text/plain)',
    send: (w) => ({
      ...signed(event({ ticket_id: w.unique, transaction_id: w.unique }), { 'content-type': 'text/plain' }),
      ticket: w.unique,
      transaction: w.unique,
    }),
    expect: { http: 415, error: 'RD_UNSUPPORTED_MEDIA', says: [/Content-Type text\/plain is not application\/json/], after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'malformed JSON (signed)',
    send: (w) => ({ ...signed(`{"ticket_id": ${w.unique}, `), ticket: w.unique, transaction: w.unique }),
    expect: { http: 400, error: 'RD_PAYLOAD_INVALID', says: [/body is not JSON/], after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'a field of the wrong type (signed)',
    send: (w) => ({ ...signed(event({ ticket_id: String(w.unique), transaction_id: w.unique })), ticket: w.unique, transaction: w.unique }),
    expect: { http: 400, error: 'RD_PAYLOAD_INVALID', says: [/^ticket_id: /], answer: { field: 'ticket_id' }, after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'replay of a delivered body',
    send: async (w) => {
      // a real delivery first: RT posts it when provider1 sets RepoAction; its release.xml fails fast
      const t = await openTicket(w, edited(w, '20261115', 'not-a-date'), `hostile webhook: replay ${w.slug}`, {
        by: 'provider1',
        set: 'MoveToUnverified',
      });
      const row = await until(() => w.e.svc.db('inbox').where({ ticket_id: t }).whereNot({ state: 'pending' }).first(), 60_000);
      return { ...signed(row.payload), ticket: t, transaction: row.transaction_id };
    },
    expect: { http: 200, answer: { status: 'duplicate' }, after: 'duplicate' },
  },
  {
    kind: 'webhook',
    name: 'an old body with a new transaction id (outside the replay window)',
    send: async (w) => {
      const t = await openTicket(w, goodXml(w), `hostile webhook: stale ${w.slug}`);
      return {
        ...signed(event({ ticket_id: t, transaction_id: w.unique, created: '2020-01-01T00:00:00Z' })),
        ticket: t,
        transaction: w.unique,
      };
    },
    expect: {
      http: 400,
      error: 'RD_WEBHOOK_STALE',
      says: [/^created: 2020-01-01T00:00:00Z is \d+ s ago; deliveries are taken within 600 s$/],
      answer: { field: 'created' },
      after: 'nothing',
    },
  },
  {
    kind: 'webhook',
    name: 'a fresh body with a new transaction id RT does not have',
    send: async (w) => {
      const t = await openTicket(w, goodXml(w), `hostile webhook: forged ${w.slug}`);
      return { ...signed(event({ ticket_id: t, transaction_id: w.unique })), ticket: t, transaction: w.unique };
    },
    expect: { http: 202, answer: { status: 'queued' }, after: { ignored: /is not a RepoAction change of ticket \d+ in RT/ } },
  },
  {
    kind: 'webhook',
    name: 'a ticket of another queue (as the payload says)',
    send: (w) => ({
      ...signed(event({ ticket_id: w.unique, transaction_id: w.unique, queue: 'General' })),
      ticket: w.unique,
      transaction: w.unique,
    }),
    expect: { http: 202, answer: { status: 'ignored', why: 'queue General is not Releases' }, after: 'nothing' },
  },
  {
    kind: 'webhook',
    name: 'a ticket of another queue (the payload lies, RT tells)',
    send: async (w) => {
      const t = await w.rt('root', 'General').createTicket({ subject: `hostile webhook: other queue ${w.slug}`, content: 'not a release' });
      return { ...signed(event({ ticket_id: t, transaction_id: w.unique })), ticket: t, transaction: w.unique };
    },
    // RT answers 403 to the service user for a ticket outside its queue: not found, ignored, not retried
    expect: { http: 202, answer: { status: 'queued' }, after: { ignored: /ticket is in queue General|not found in RT/ } },
  },
];

function unsigned(w: World): WebhookRequest {
  return {
    body: JSON.stringify(event({ ticket_id: w.unique, transaction_id: w.unique })),
    headers: { 'content-type': 'application/json' },
  };
}

// ------------------------------------------------------------------------------------------------ actors

const actor: Case[] = [
  {
    kind: 'actor',
    name: 'an unknown user (forged actor, no such change in RT)',
    send: async (w) => {
      const t = await openTicket(w, goodXml(w), `hostile actor: unknown ${w.slug}`);
      return {
        ...signed(event({ ticket_id: t, transaction_id: w.unique, actor: { id: 99_999, name: 'mallory' } })),
        ticket: t,
        transaction: w.unique,
      };
    },
    expect: { http: 202, answer: { status: 'queued' }, after: { ignored: /is not a RepoAction change of ticket \d+ in RT/ } },
  },
  {
    kind: 'actor',
    name: 'a technology-unit member starts the provider action',
    actor: 'tug1',
    xml: (w) => goodXml(w),
    expect: {
      refused: 'RD_ROLE_FORBIDDEN',
      says: [/tug1 may not MoveToUnverified; allowed: the ticket requestor \(software provider\)\. Nothing was changed\./],
    },
  },
  {
    kind: 'actor',
    name: 'a rollout coordinator starts the provider action',
    actor: 'rollout1',
    xml: (w) => goodXml(w),
    expect: { refused: 'RD_ROLE_FORBIDDEN', says: [/rollout1 may not MoveToUnverified/] },
  },
  {
    kind: 'actor',
    name: "the service's own user",
    send: (w) => ({
      ...signed(event({ ticket_id: w.unique, transaction_id: w.unique, actor: { id: 1, name: 'releasedesk' } })),
      ticket: w.unique,
      transaction: w.unique,
    }),
    expect: { http: 202, answer: { status: 'ignored', why: 'made by the service itself' }, after: 'nothing' },
  },
];

export const cases: Case[] = [...xml, ...bundle, ...url, ...webhook, ...actor];
