/**
 * Bundles between desks on the real PostgreSQL and gpg: one desk exports a release (its signing key signs the
 * manifest), another that trusts that key imports it through fetch-packages, as a ticket whose synchURL names
 * the bundle. Tampered, unsigned, foreign-signed and mismatched bundles are refused with nothing stored.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../../services/cli/main.ts';
import { exportBundle, importXml } from '../../../services/bundles/export.ts';
import { MANIFEST_FILE, SIGNATURE_FILE } from '../../../services/bundles/manifest.ts';
import { editReleaseXml } from '../../../services/metadata/release-xml-edit.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { publicKeysDir, startSigner, type Signer } from '../../../services/signing/signer.ts';
import { fetchPackages } from '../../../workers/steps/fetch-packages.ts';
import { startApp } from '../../support/app.ts';
import { fails } from '../../support/errors.ts';
import { startProviderServer, type ProviderServer } from '../../support/provider-server.ts';
import { checkpointed, headersOf, seedRelease, useStepEnv, useTestPackages, xmlFor } from '../../support/step-context.ts';
import { packTar, readTar } from '../../support/tar.ts';

const env = useStepEnv();
const pk = useTestPackages();
const PRODUCT = 'TESTTP.testpkg.el9.noarch';
const TICKET = 41;

let root: string;
let source: Signer; // the exporting desk
let receiver: Signer; // trusts the source's key
let foreign: Signer; // a desk nobody trusts
let provider: ProviderServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-bundles-'));
  source = await startSigner({ storageDir: join(root, 'source'), keys: [] });
  foreign = await startSigner({ storageDir: join(root, 'foreign'), keys: [] });
  receiver = await startSigner({
    storageDir: join(root, 'receiver'),
    keys: [],
    trustedKeys: [join(publicKeysDir(join(root, 'source')), 'releasedesk.asc')],
  });
  provider = await startProviderServer({});
}, 120_000);
afterAll(async () => {
  await provider?.close();
  for (const s of [source, receiver, foreign]) await s?.stop();
  await rm(root, { recursive: true, force: true });
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The release as the source desk recorded it, its release.xml without digests (as providers often send it). */
async function seedSource(): Promise<Buffer> {
  const xml = Buffer.from(xmlFor(PRODUCT, pk().rpms).replace(/ sha256="[0-9a-f]{64}"/g, ''));
  const id = await seedRelease(env, {
    ticketId: TICKET,
    product: PRODUCT,
    pkgs: pk().rpms,
    headers: await headersOf(pk().rpms),
    revision: 1,
  });
  await env
    .db('releases')
    .where({ id })
    .update({ xml, xml_sha256: sha(xml) });
  return xml;
}

const exportDeps = () => ({ db: env.db, config: { ...env.config, DESK_NAME: 'central' }, signer: source });

/** fetch-packages of the receiving desk for a ticket whose release.xml is `xml`, run by `signer`. */
function importRun(xml: Buffer | string, signer: Signer = receiver) {
  const ctx = env.ctx(1, {
    outputs: checkpointed({
      'fetch-metadata': { attachmentId: 1, filename: 'release.xml', xmlSha256: sha(xml), metadata: parseReleaseXml(xml) },
    }),
  });
  return fetchPackages.run({ ...ctx, deps: { ...ctx.deps, signer } });
}

/** Serves `bytes` as a bundle and gives the receiving ticket's release.xml naming it. */
function serve(name: string, bytes: Buffer, releaseXml: Buffer): Buffer {
  provider.route(`/${name}`, { body: bytes });
  return Buffer.from(editReleaseXml(releaseXml.toString('utf8'), { synch: { url: `${provider.url}/${name}`, sha256: sha(bytes) } }));
}

/** No blob but the source's own (seeded), in the database or on disk (the action's scratch goes with the action). */
async function nothingStored() {
  expect(await env.db('blobs').count('* as n')).toEqual([{ n: pk().rpms.length }]);
  const onDisk = (await readdir(join(env.config.STORAGE_DIR, 'blobs'), { recursive: true })).filter((f) => /[0-9a-f]{64}$/.test(f));
  expect(onDisk.map((f) => f.slice(-64)).sort()).toEqual(
    pk()
      .rpms.map((p) => p.sha256)
      .sort(),
  );
}

describe('export', () => {
  it('writes release.xml with every sha256, the packages byte for byte, the audit trail and a signed manifest; once per revision', async () => {
    const frozen = await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const files = await readTar(await readFile(b.file));
    expect(Object.keys(files).sort()).toEqual(
      [MANIFEST_FILE, SIGNATURE_FILE, 'audit/transitions.json', 'release.xml', ...pk().rpms.map((p) => `packages/${p.filename}`)].sort(),
    );
    for (const p of pk().rpms) expect(sha(files[`packages/${p.filename}`]!)).toBe(p.sha256);
    const inBundle = parseReleaseXml(files['release.xml']!);
    expect(inBundle.packages.map((p) => p.sha256)).toEqual(pk().rpms.map((p) => p.sha256));
    // nothing else changed: the frozen file with the digests written in
    expect(files['release.xml']!.toString().replace(/ sha256="[0-9a-f]{64}"/g, '')).toBe(frozen.toString());
    const manifest = JSON.parse(files[MANIFEST_FILE]!.toString());
    expect(manifest.source).toEqual({ desk: 'central', url: env.config.PUBLIC_URL, ticket: TICKET });
    for (const m of manifest.members) expect(sha(files[m.path]!)).toBe(m.sha256);
    const again = await exportBundle(exportDeps(), TICKET);
    expect(again.sha256).toBe(b.sha256);
    // a bundle exported before its digest was recorded beside it: hashed once, then recorded
    await rm(`${b.file}.sha256`);
    expect(await exportBundle(exportDeps(), TICKET)).toMatchObject({ sha256: b.sha256, size: b.size });
    expect(await readFile(`${b.file}.sha256`, 'utf8')).toBe(`${b.sha256} ${b.size}\n`);
  });

  it('refuses a ticket with no release, and a release that did not pass Unverified', async () => {
    await fails(exportBundle(exportDeps(), 999), 'RD_NOT_FOUND');
    await seedSource();
    await env.db('releases').where({ ticket_id: TICKET }).update({ status: 'Rejected' });
    const e = await fails(exportBundle(exportDeps(), TICKET), 'RD_ACTION_NOT_ALLOWED');
    expect(e.message).toMatch(/Rejected/);
  });
});

describe('import (fetch-packages of the receiving desk)', () => {
  it('verifies the signature and every digest, stores the packages and says where they came from', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const bytes = await readFile(b.file);
    provider.route('/ok.tar.gz', { body: bytes });
    const out = await importRun(importXml(b, `${provider.url}/ok.tar.gz`));
    expect(out.packages.map((p) => p.sha256)).toEqual(pk().rpms.map((p) => p.sha256));
    expect(out.imported).toMatchObject({ desk: 'central', ticket: TICKET, signedBy: source.fingerprints[0], bundleSha256: b.sha256 });
  });

  it('RD_BUNDLE_TAMPERED when a package changed after signing, naming it; nothing stored', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const files = await readTar(await readFile(b.file));
    const victim = `packages/${pk().rpms[1]!.filename}`;
    files[victim] = Buffer.concat([files[victim]!, Buffer.from('x')]);
    const e = await fails(importRun(serve('tampered.tar.gz', await packTar(files), b.releaseXml)), 'RD_BUNDLE_TAMPERED');
    expect(e.message).toContain(victim);
    await nothingStored();
  });

  it('RD_BUNDLE_TAMPERED when the manifest changed after signing (BADSIG)', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const files = await readTar(await readFile(b.file));
    files[MANIFEST_FILE] = Buffer.from(files[MANIFEST_FILE]!.toString().replace('"central"', '"centrak"'));
    const e = await fails(importRun(serve('badsig.tar.gz', await packTar(files), b.releaseXml)), 'RD_BUNDLE_TAMPERED');
    expect(e.message).toMatch(/BADSIG/);
    await nothingStored();
  });

  it('RD_BUNDLE_TAMPERED for a file the manifest does not list', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const files = await readTar(await readFile(b.file));
    files['packages/extra.rpm'] = Buffer.from('smuggled');
    const e = await fails(importRun(serve('extra.tar.gz', await packTar(files), b.releaseXml)), 'RD_BUNDLE_TAMPERED');
    expect(e.message).toContain('packages/extra.rpm');
  });

  it('RD_BUNDLE_UNSIGNED when the signature was taken out', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const files = await readTar(await readFile(b.file));
    delete files[SIGNATURE_FILE];
    await fails(importRun(serve('unsigned.tar.gz', await packTar(files), b.releaseXml)), 'RD_BUNDLE_UNSIGNED');
    await nothingStored();
  });

  it('RD_BUNDLE_UNTRUSTED when a key this desk does not trust signed it, naming the key', async () => {
    await seedSource();
    const b = await exportBundle({ ...exportDeps(), signer: foreign }, TICKET);
    const e = await fails(importRun(serve('foreign.tar.gz', await readFile(b.file), b.releaseXml)), 'RD_BUNDLE_UNTRUSTED');
    expect(e.message).toContain(foreign.fingerprints[0]!.slice(-16));
    await nothingStored();
  });

  it('RD_BUNDLE_UNTRUSTED on a desk that trusts no key at all', async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const e = await fails(importRun(serve('notrust.tar.gz', await readFile(b.file), b.releaseXml), foreign), 'RD_BUNDLE_UNTRUSTED');
    expect(e.message).toMatch(/TRUSTED_BUNDLE_KEYS is empty/);
  });

  it("RD_BUNDLE_MISMATCH when the ticket's release.xml says something else than the signed one", async () => {
    await seedSource();
    const b = await exportBundle(exportDeps(), TICKET);
    const other = Buffer.from(b.releaseXml.toString().replace(/<release:changeLog>[^<]*</, '<release:changeLog>edited<'));
    const e = await fails(importRun(serve('mismatch.tar.gz', await readFile(b.file), other)), 'RD_BUNDLE_MISMATCH');
    expect(e.message).toMatch(/changeLog/);
    await nothingStored();
  });
});

describe('editReleaseXml', () => {
  it('changes only the values asked for', async () => {
    const xml = xmlFor(PRODUCT, pk().rpms);
    const edited = editReleaseXml(xml, { synch: { url: 'http://desk.test/b.tar.gz', sha256: 'a'.repeat(64) } });
    const m = parseReleaseXml(edited);
    expect(m.synchURL).toBe('http://desk.test/b.tar.gz');
    expect(m.synchSha256).toBe('a'.repeat(64));
    const { synchURL: _u, synchSha256: _s, ...rest } = parseReleaseXml(xml);
    const { synchURL: _u2, synchSha256: _s2, ...restEdited } = m;
    expect(JSON.parse(JSON.stringify(restEdited, (k, v) => (k === 'line' ? undefined : v)))).toEqual(
      JSON.parse(JSON.stringify(rest, (k, v) => (k === 'line' ? undefined : v))),
    );
  });
  it('refuses digests for packages the file does not list', () => {
    expect(() => editReleaseXml(xmlFor(PRODUCT, pk().rpms), { sha256ByFile: { 'nope.rpm': 'a'.repeat(64) } })).toThrow(
      /no digest was given/,
    );
  });
});

describe('GET /releases/:ticket/bundle and releasedesk export', () => {
  const TOKEN = 'operator-token-0123456789';
  const PEER_SECRET = 'shared-with-site-de-0123';
  async function app() {
    const config = {
      ...env.config,
      DESK_NAME: 'central',
      API_TOKENS: [TOKEN],
      PEERS: [{ name: 'site-de', url: 'http://127.0.0.1:9', secret: PEER_SECRET }],
    };
    return startApp(env.db, { config, signer: source, storageDir: config.STORAGE_DIR });
  }
  const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers 401 without a token or with a wrong one, and the bundle to an operator token or a peer secret', async () => {
    await seedSource();
    const a = await app();
    try {
      const anonymous = await get(`${a.url}/releases/${TICKET}/bundle`);
      expect(anonymous.status).toBe(401);
      expect((await anonymous.json()).error).toBe('RD_AUTH_REQUIRED');
      const wrong = await get(`${a.url}/releases/${TICKET}/bundle`, 'not-the-token-0123456789');
      expect(wrong.status).toBe(401);
      expect((await wrong.json()).error).toBe('RD_AUTH_INVALID');
      const byOperator = await get(`${a.url}/releases/${TICKET}/bundle`, TOKEN);
      expect(byOperator.status).toBe(200);
      const bytes = Buffer.from(await byOperator.arrayBuffer());
      expect(byOperator.headers.get('x-releasedesk-bundle-sha256')).toBe(sha(bytes));
      const byPeer = await get(`${a.url}/releases/${TICKET}/bundle`, PEER_SECRET);
      expect(sha(Buffer.from(await byPeer.arrayBuffer()))).toBe(sha(bytes));
      const missing = await get(`${a.url}/releases/999/bundle`, TOKEN);
      expect(missing.status).toBe(404);
    } finally {
      await a.close();
    }
  });

  it('releasedesk export writes the bundle and the release.xml that names it', async () => {
    await seedSource();
    const a = await app();
    const out = join(root, 'export-out');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const code = await run([
        '--url',
        a.url,
        '--token',
        TOKEN,
        'export',
        String(TICKET),
        '--out',
        out,
        '--bundle-url',
        'https://files.example/b.tar.gz',
      ]);
      expect(code).toBe(0);
      const files = (await readdir(out)).sort();
      expect(files).toHaveLength(2);
      const bundleFile = files.find((f) => f.endsWith('.bundle.tar.gz'))!;
      const xml = parseReleaseXml(await readFile(join(out, files.find((f) => f.endsWith('.release.xml'))!)));
      expect(xml.synchURL).toBe('https://files.example/b.tar.gz');
      expect(xml.synchSha256).toBe(sha(await readFile(join(out, bundleFile))));
      expect(log.mock.calls.flat().join('\n')).toMatch(/attach .*\.release\.xml to a release ticket/);
      expect(await run(['--url', a.url, 'export', String(TICKET), '--out', out])).toBe(1); // no token
    } finally {
      log.mockRestore();
      await a.close();
    }
  });
});

// keep the helper honest: a file written where the test thinks it is
it('the receiving signer trusts exactly the source key', async () => {
  expect(receiver.trusted.fingerprints).toEqual(source.fingerprints);
  await writeFile(join(root, 'probe'), 'x');
});
