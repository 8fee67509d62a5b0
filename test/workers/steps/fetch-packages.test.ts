import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { claimBlobs } from '../../../services/db/blobs.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { BlobStore, sha256File } from '../../../services/storage/blobs.ts';
import { addToPool } from '../../../services/storage/dist-pool.ts';
import { poolHref } from '../../../services/storage/dist-ref.ts';
import { checkHeaders } from '../../../workers/steps/check-headers.ts';
import { fetchPackages } from '../../../workers/steps/fetch-packages.ts';
import { fails } from '../../support/errors.ts';
import type { TestPackage } from '../../support/packages.ts';
import { startProviderServer, type ProviderServer } from '../../support/provider-server.ts';
import { checkpointed, headersOf, seedRelease, useStepEnv, useTestPackages, xmlFor } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const PRODUCT = 'TESTTP.testpkg.el9.noarch';
let provider: ProviderServer;
let bundle: Buffer;
beforeAll(async () => {
  provider = await startProviderServer({ dir: pk().dir });
  bundle = await readFile(pk().bundle);
});
afterAll(() => provider?.close());
beforeEach(() => void provider.requests.splice(0));

/** The outputs fetch-metadata would have checkpointed for this release.xml. */
const outputs = (xml: string) =>
  checkpointed({
    'fetch-metadata': { attachmentId: 1, filename: 'release.xml', xmlSha256: '0'.repeat(64), metadata: parseReleaseXml(xml) },
  });
const ctxFor = (xml: string) => env.ctx(1, { outputs: outputs(xml) });
const inStore = async (p: TestPackage) => env.blobs.has(p.sha256);

describe('fetch-packages, one url per package', () => {
  it('downloads each package, checks its digest and stores it once under its sha256', async () => {
    const out = await fetchPackages.run(ctxFor(xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url })));
    expect(out).toEqual({
      packages: pk().rpms.map((p) => ({ filename: p.filename, sha256: p.sha256, size: p.size, url: `${provider.url}/rpm/${p.filename}` })),
      extras: [],
      adopted: pk().rpms.map((p) => p.sha256),
      bytes: pk().rpms.reduce((n, p) => n + p.size, 0),
    });
    for (const p of pk().rpms) expect(await sha256File(env.blobs.path(p.sha256))).toEqual({ sha256: p.sha256, size: p.size });
    expect(provider.requests.map((r) => r.path)).toEqual(pk().rpms.map((p) => `/rpm/${p.filename}`));
    expect(await readdir(env.ctx(1).workDir)).toEqual([]); // nothing left in the scratch
  });

  it('does not download a digest the store already has, and does not count it as its own', async () => {
    const ctx = ctxFor(xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url }));
    await fetchPackages.run(ctx);
    const again = await fetchPackages.run(ctx);
    expect(again.adopted).toEqual([]);
    expect(again.packages.map((p) => p.sha256)).toEqual(pk().rpms.map((p) => p.sha256));
    expect(provider.requests).toHaveLength(3);
  });

  it('RD_DIGEST_MISMATCH when a file is not the one release.xml names, and the bad bytes are not stored', async () => {
    const b = pk().rpms[1]!;
    const other = 'b'.repeat(64); // (a digest the store has is not downloaded at all: the store answers)
    const xml = xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url }).replace(`sha256="${b.sha256}"`, `sha256="${other}"`);
    const e = await fails(fetchPackages.run(ctxFor(xml)), 'RD_DIGEST_MISMATCH');
    expect(e.message).toBe(`${b.filename}: sha256 ${b.sha256}, expected ${other}`);
    expect(await inStore(b)).toBe(false);
    // a failed step is not undone: the package it had stored before the bad one goes with the failure
    expect(await inStore(pk().rpms[0]!)).toBe(false);
    expect(await env.db('blobs').count('* as n')).toEqual([{ n: 0 }]);
    expect(await env.db('blob_claims').count('* as n')).toEqual([{ n: 0 }]);
    expect(await readdir(env.ctx(1).workDir)).toEqual([]);
  });

  it('RD_DOWNLOAD_FAILED when the url answers 404', async () => {
    const xml = xmlFor(PRODUCT, pk().rpms, { baseUrl: `${provider.url}/gone` });
    const e = await fails(fetchPackages.run(ctxFor(xml)), 'RD_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/answered HTTP 404/);
  });
});

describe('fetch-packages, from a bundle (synchURL)', () => {
  const bundleXml = (o: { sha256?: string; pkgs?: TestPackage[] } = {}) =>
    xmlFor(PRODUCT, o.pkgs ?? pk().rpms, { urls: false, synchURL: `${provider.url}/bundle.tar.gz`, synchSha256: o.sha256 ?? sha(bundle) });

  it('unpacks it, stores the named packages and lists the files release.xml does not name', async () => {
    const out = await fetchPackages.run(ctxFor(bundleXml()));
    expect(out.packages).toEqual(pk().rpms.map((p) => ({ filename: p.filename, sha256: p.sha256, size: p.size, url: null })));
    expect(out.adopted).toEqual(pk().rpms.map((p) => p.sha256));
    expect(out.extras.sort()).toEqual(['SHA256SUMS', ...pk().debs.map((d) => `deb/${d.filename}`)].sort());
    for (const p of pk().rpms) expect(await inStore(p)).toBe(true);
    for (const d of pk().debs) expect(await inStore(d)).toBe(false);
  });

  it('RD_DIGEST_MISMATCH when the bundle is not the one release.xml names', async () => {
    await fails(fetchPackages.run(ctxFor(bundleXml({ sha256: 'a'.repeat(64) }))), 'RD_DIGEST_MISMATCH');
  });

  it('RD_DIGEST_MISMATCH when a package in the bundle has another digest than release.xml says', async () => {
    const [a, b] = pk().rpms as [TestPackage, TestPackage];
    const e = await fails(
      fetchPackages.run(ctxFor(bundleXml().replace(`sha256="${b.sha256}"`, `sha256="${a.sha256}"`))),
      'RD_DIGEST_MISMATCH',
    );
    expect(e.message).toBe(`${b.filename}: sha256 ${b.sha256}, expected ${a.sha256}`);
  });

  it('RD_PACKAGE_MISSING when release.xml names a file the bundle does not have', async () => {
    const ghost = { ...pk().rpms[0]!, filename: 'testpkg-9.9.9-1.noarch.rpm' };
    const e = await fails(fetchPackages.run(ctxFor(bundleXml({ pkgs: [...pk().rpms, ghost] }))), 'RD_PACKAGE_MISSING');
    expect(e.message).toBe('not in the bundle: testpkg-9.9.9-1.noarch.rpm');
  });
});

describe('fetch-packages undo', () => {
  it('removes the blobs it used that no release and no other action in flight uses, and keeps the others', async () => {
    const [mine, shared, older] = pk().rpms as [TestPackage, TestPackage, TestPackage];
    // `older` was in the store before, fetched by another action still in flight (its claim);
    // `shared` gets recorded by another release meanwhile
    await env.blobs.adopt(await copyToTmp(older), older.sha256, older.size);
    await claimBlobs(env.db, 99, [{ sha256: older.sha256, size: older.size }]);
    const ctx = ctxFor(xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url }));
    const out = checkpointed(await fetchPackages.run(ctx));
    expect(out.adopted).toEqual([mine.sha256, shared.sha256]);
    await seedRelease(env, { ticketId: 2, product: PRODUCT, pkgs: [shared], headers: await headersOf([shared]), store: false });
    await fetchPackages.undo!(ctx, out);
    expect(await inStore(mine)).toBe(false);
    expect(await inStore(shared)).toBe(true);
    expect(await inStore(older)).toBe(true);
    expect(await env.db('blobs').pluck('sha256')).not.toContain(mine.sha256);
    // once the other action is over (undone too), nothing keeps `older`
    await fetchPackages.undo!(env.ctx(99), { ...out, packages: out.packages.filter((p) => p.sha256 === older.sha256) });
    expect(await inStore(older)).toBe(false);
    // a second undo (the engine may undo again after a crash) is harmless
    await fetchPackages.undo!(ctx, out);
  });

  it('a blob it removes leaves the pool too: a publication had linked it there, and the link would keep its bytes', async () => {
    const ctx = ctxFor(xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url }));
    const out = checkpointed(await fetchPackages.run(ctx));
    await addToPool(env.config.STORAGE_DIR, pk().rpms);
    const pooled = (p: TestPackage) => existsSync(join(env.config.STORAGE_DIR, 'repos', 'dist', poolHref(p.sha256, p.filename)));
    expect(pk().rpms.every(pooled)).toBe(true);
    await seedRelease(env, {
      ticketId: 2,
      product: PRODUCT,
      pkgs: [pk().rpms[0]!],
      headers: await headersOf([pk().rpms[0]!]),
      store: false,
    });
    await fetchPackages.undo!(ctx, out);
    expect(pk().rpms.map(pooled)).toEqual([true, false, false]);
    expect(await readdir(join(env.config.STORAGE_DIR, 'repos', 'dist', 'pool', pk().rpms[1]!.sha256.slice(0, 2)))).not.toContain(
      pk().rpms[1]!.sha256,
    );
  });

  it('undoes a bundle run: the named packages it stored are gone, nothing of the bundle stays', async () => {
    const ctx = ctxFor(xmlFor(PRODUCT, pk().rpms, { urls: false, synchURL: `${provider.url}/bundle.tar.gz`, synchSha256: sha(bundle) }));
    await fetchPackages.undo!(ctx, checkpointed(await fetchPackages.run(ctx)));
    for (const p of pk().rpms) expect(await inStore(p)).toBe(false);
  });

  // Found by this test: the undo used to delete a blob that another action in flight had found in the store
  // (so not its own download) and not recorded yet; that action then failed with RD_PACKAGE_UNREADABLE.
  it('keeps a blob that another action in flight fetched too (not yet recorded)', async () => {
    const xml = xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url });
    const a = env.ctx(1, { outputs: outputs(xml) });
    const b = env.ctx(2, { outputs: outputs(xml) });
    const outA = checkpointed(await fetchPackages.run(a));
    b.outputs['fetch-packages'] = checkpointed(await fetchPackages.run(b)); // found in the store: adopted []
    await fetchPackages.undo!(a, outA); // A fails later and is undone
    expect(await Promise.all(pk().rpms.map(inStore))).toEqual([true, true, true]);
    await checkHeaders.run(b); // B goes on (it used to fail: RD_PACKAGE_UNREADABLE, open of testpkg-…rpm failed)
  });

  it('a blob another action removed while this one fetched is said as RD_BUSY (the rerun fetches it again)', async () => {
    const xml = xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url });
    const a = env.ctx(1, { outputs: outputs(xml) });
    const outA = checkpointed(await fetchPackages.run(a));
    const b = env.ctx(2, { outputs: outputs(xml) });
    // B finds the first two blobs in the store; A's undo removes them all while B looks for the last one,
    // before B's claim is in
    const realHas = env.blobs.has.bind(env.blobs);
    let calls = 0;
    const spy = vi.spyOn(BlobStore.prototype, 'has').mockImplementation(async (sha: string) => {
      if (++calls === pk().rpms.length) await fetchPackages.undo!(a, outA);
      return realHas(sha);
    });
    try {
      await fails(fetchPackages.run(b), 'RD_BUSY');
    } finally {
      spy.mockRestore();
    }
    // the rerun downloads again the two that were removed (the last one B downloaded itself is still there)
    const again = await fetchPackages.run(b);
    expect(again.adopted).toEqual(
      pk()
        .rpms.slice(0, 2)
        .map((p) => p.sha256),
    );
    for (const p of pk().rpms) expect(await inStore(p)).toBe(true);
  });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function copyToTmp(p: TestPackage): Promise<string> {
  const tmp = env.blobs.tempPath('test');
  await copyFile(p.path, tmp);
  return tmp;
}
