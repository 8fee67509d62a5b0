/**
 * Builders of hostile inputs for test/hostile/cases.ts: release.xml variants, hand-made tar.gz bundles (bombs,
 * escapes, lies), misbehaving download routes and webhook requests. Each takes the World of one case.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Pax } from 'tar';
import { sign } from '../../services/api/signature.ts';
import type { RtClient } from '../../services/helpdesk/rt-client.ts';
import { rpmSpec, type E2E } from '../support/e2e.ts';
import { releaseXml, type XmlPackage, type XmlRelease } from '../support/release-xml.ts';
import type { RtUserName } from '../support/rt.ts';
import { E2E_SECRET } from '../support/service.ts';
import { END, entry, tarOf } from '../support/tar.ts';

/** What a case builds its input from: the running service, a product name of its own, the canary. */
export interface World {
  e: E2E;
  /** productShortName (and productName) of this case: nothing may appear in any repository under it */
  product: string;
  /** an empty directory outside STORAGE_DIR that every escape attempt aims at; it must stay empty */
  canary: string;
  /** the name of this case, usable in URL paths */
  slug: string;
  /** a number no other case and no earlier run uses: fake ticket and transaction ids of webhook cases */
  unique: number;
  /** testpkg built with version 2.10 (served under /v210/) */
  v210: { filename: string; sha256: string };
  /** an RT client of that user (and queue), patient with an RT the whole corpus keeps busy */
  rt: (user: RtUserName, queue?: string) => RtClient;
}

/**
 * A ticket in the release queue, requested by provider1, with `xml` attached as release.xml. With `action`, `by`
 * creates it with RepoAction already set (one RT write instead of two; RT's scrip posts the webhook all the same).
 */
export const openTicket = (w: World, xml: string | Buffer, subject: string, action?: { by: RtUserName; set: string }): Promise<number> =>
  w.rt(action?.by ?? 'provider1').createTicket({
    subject: `${subject} ${w.e.run}`,
    requestor: 'provider1',
    content: 'Please publish.',
    attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.isBuffer(xml) ? xml : Buffer.from(xml) }],
    ...(action && { customFields: { RepoAction: action.set } }),
  });

/** Polls until fn returns something truthy. */
export async function until<T>(fn: () => Promise<T | undefined | null | false>, ms: number, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await fn();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const gz = promisify(gzip);

// ------------------------------------------------------------------ release.xml

export const PKG = 'testpkg-1.0.0-1.noarch.rpm';

/** A valid release.xml of testpkg for this case; `over` changes the package, `rel` the release. */
export const goodXml = (w: World, over: Partial<XmlPackage> = {}, rel: Partial<XmlRelease> = {}) =>
  releaseXml({ product: w.product, packages: [rpmSpec(w.e, 'testpkg', over)], ...rel });

/** The valid release.xml with one textual change; fails loudly if the text to change is not there. */
export function edited(w: World, from: string | RegExp, to: string): string {
  const xml = goodXml(w);
  if (!(typeof from === 'string' ? xml.includes(from) : from.test(xml))) throw new Error(`${String(from)} is not in the release.xml`);
  return xml.replace(from, to);
}

/** Inserts lines right after the XML declaration (line 2 of the file). */
export const afterDeclaration = (w: World, lines: string) => edited(w, '<?xml version="1.0" ?>', `<?xml version="1.0" ?>\n${lines}`);

/** The package is fetched from `url`, without a digest (a stored digest would skip the download, by design). */
export const fromUrl = (w: World, url: string) => goodXml(w, { url, sha256: undefined });

// ------------------------------------------------------------------ bundles

/** Serves the bundle at /<slug>.tar.gz and returns a release.xml whose synchURL (with its sha256) points at it. */
export async function bundleXml(w: World, bundle: Buffer | Promise<Buffer>): Promise<string> {
  const bytes = await bundle;
  const path = `/bundles/${w.slug}.tar.gz`;
  w.e.provider.file(path, bytes);
  return releaseXml({
    product: w.product,
    synchURL: `${w.e.provider.url}${path}`,
    synchSha256: sha(bytes),
    packages: [rpmSpec(w.e, 'testpkg', { url: undefined, sha256: undefined })],
  });
}

const file = (path: string, body: Buffer | string = 'x') => entry({ path, body });
export const tarGz = (...entries: Buffer[]) => gz(tarOf(...entries));
const testRpm = (w: World, name = 'testpkg') => readFile(w.e.pkgs.rpm(name).path);

/** Enough ../ to climb from any scratch directory to /, then the canary's absolute path. */
export const climbTo = (target: string) => `${'../'.repeat(12)}${target.replace(/^\//, '')}`;

export const bundles = {
  slip: (w: World) => tarGz(file(climbTo(`${w.canary}/escape.rpm`))),
  absolute: (w: World) => tarGz(file(`${w.canary}/absolute.rpm`)),
  /** a directory symlink into the canary, then a file written "through" it */
  symlink: (w: World) =>
    tarGz(entry({ path: 'rpm', type: 'SymbolicLink', linkpath: w.canary, size: 0 }), file(`rpm/${PKG}`, 'through the link')),
  hardlink: (w: World) => tarGz(entry({ path: `rpm/${PKG}`, type: 'Link', linkpath: `${w.canary}/hardlink-target`, size: 0 })),
  device: () => tarGz(entry({ path: 'rpm/null', type: 'CharacterDevice', size: 0, devmaj: 1, devmin: 3 } as Parameters<typeof entry>[0])),
  entries: (n: number) => tarGz(...Array.from({ length: n }, (_, i) => file(`many/f${i}`))),
  /** `count` files of `each` bytes of zeros: small compressed, large unpacked */
  size: (count: number, each: number) =>
    tarGz(...Array.from({ length: count }, (_, i) => entry({ path: `big/z${i}`, body: Buffer.alloc(each) }))),
  /** one header that declares `bytes`, no data behind it */
  declared: (bytes: number) => gz(entry({ path: 'huge.bin', size: bytes }).subarray(0, 512)),
  /** pax metadata records (each under the 64 KiB meta limit, in no entry's size) that unpack past every limit */
  paxPadding: (count: number) =>
    gz(
      Buffer.concat([
        ...Array.from({ length: count }, () => new Pax({ comment: 'A'.repeat(60_000) } as ConstructorParameters<typeof Pax>[0]).encode()),
        file(`rpm/${PKG}`),
        END,
      ]),
    ),
  /** a tar.gz gzipped again (42.zip-style nesting) */
  nested: async () => gz(await tarGz(file(`rpm/${PKG}`))),
  truncatedGzip: async (w: World) => {
    const whole = await tarGz(file(`rpm/${PKG}`, await testRpm(w)));
    return whole.subarray(0, Math.floor(whole.length / 2));
  },
  duplicate: async (w: World) => tarGz(file(`rpm/${PKG}`, await testRpm(w)), file(`rpm/${PKG}`, 'the second copy')),
  ambiguous: async (w: World) => tarGz(file(`el9/${PKG}`, await testRpm(w)), file(`el8/${PKG}`, await testRpm(w))),
  notAPackage: () => tarGz(file(`rpm/${PKG}`, randomBytes(4096))),
  otherPackage: async (w: World) => tarGz(file(`rpm/${PKG}`, await testRpm(w, 'testpkg-dep'))),
};

// ------------------------------------------------------------------ download routes

/** Registers a misbehaving route at /routes/<slug>.rpm and returns its URL. */
export function route(w: World, r: Parameters<E2E['provider']['route']>[1]): string {
  const path = `/routes/${w.slug}.rpm`;
  w.e.provider.route(path, r);
  return `${w.e.provider.url}${path}`;
}

/**
 * A route answering with raw bytes, then closing the connection: headers that lie are sent as written
 * (node's server refuses to send a body that disagrees with its Content-Length, and destroy() loses what is queued).
 */
export function rawRoute(w: World, contentLength: number, body: Buffer): string {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${contentLength}\r\nConnection: close\r\n\r\n`;
  return route(w, { handler: (_req, res) => void res.socket!.end(Buffer.concat([Buffer.from(head), body])) });
}

/** A URL on the provider's port but under another host name or address form. */
export const onHost = (w: World, host: string, path = `/rpm/${PKG}`) => `http://${host}:${w.e.provider.port}${path}`;

// ------------------------------------------------------------------ webhooks

export interface WebhookRequest {
  body: string | Buffer;
  headers: Record<string, string>;
}

/** A webhook payload as RT's scrip sends it (schemas/webhook-rt.v1.ts). */
export const event = (over: Record<string, unknown> = {}) => ({
  event: 'customfield.changed',
  ticket_id: 1,
  queue: 'Releases',
  subject: 'hostile',
  transaction_id: 1,
  field: 'RepoAction',
  field_id: 1,
  old_value: null,
  new_value: 'MoveToUnverified',
  actor: { id: 1, name: 'provider1' },
  created: new Date().toISOString(),
  rt_url: 'http://127.0.0.1',
  ...over,
});

/** JSON, signed with the service's secret, unless headers say otherwise. */
export function signed(payload: unknown, headers: Record<string, string> = {}): WebhookRequest {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return { body, headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, E2E_SECRET), ...headers } };
}
