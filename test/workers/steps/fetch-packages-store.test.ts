/**
 * fetch-packages with an object store behind the blobs (BLOB_STORE): what the step's checkpoint names is in
 * the store when it returns, so another machine resumes from it. The directory store keeps this fast; the
 * S3 store is tested on a real Swift in test/services/storage/objects.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { blobKey } from '../../../services/storage/objects/blob-copies.ts';
import { FsObjectStore } from '../../../services/storage/objects/fs-store.ts';
import { backBlobsWith } from '../../../services/storage/objects/open.ts';
import { checkHeaders } from '../../../workers/steps/check-headers.ts';
import { fetchPackages } from '../../../workers/steps/fetch-packages.ts';
import { fails } from '../../support/errors.ts';
import { startProviderServer, type ProviderServer } from '../../support/provider-server.ts';
import { checkpointed, headersOf, useStepEnv, useTestPackages, xmlFor } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const PRODUCT = 'TESTTP.testpkg.el9.noarch';
let provider: ProviderServer;
beforeAll(async () => {
  provider = await startProviderServer({ dir: pk().dir });
  return () => provider.close();
});
afterEach(() => backBlobsWith(env.config.STORAGE_DIR, null));

const metadataOf = (xml: string) => ({
  attachmentId: 1,
  filename: 'release.xml',
  xmlSha256: '0'.repeat(64),
  metadata: parseReleaseXml(xml),
});
const xml = () => xmlFor(PRODUCT, pk().rpms, { baseUrl: provider.url });

/** The object store in a directory next to STORAGE_DIR (not inside it: another machine's view of it). */
async function storeAt(name: string, exists = true): Promise<{ store: FsObjectStore; dir: string }> {
  const dir = join(env.config.STORAGE_DIR, '..', `${name}-${Date.now()}`);
  if (exists) await mkdir(dir);
  const store = new FsObjectStore(dir);
  backBlobsWith(env.config.STORAGE_DIR, store);
  return { store, dir };
}

describe('fetch-packages with an object store', () => {
  it('puts every package into the store before it returns; another machine reads the headers from there', async () => {
    const { store } = await storeAt('objects');
    const out = await fetchPackages.run(env.ctx(1, { outputs: checkpointed({ 'fetch-metadata': metadataOf(xml()) }) }));
    for (const p of pk().rpms) expect(await store.head(blobKey(p.sha256))).toEqual({ size: p.size, sha256: p.sha256 });

    // the next step on a machine whose STORAGE_DIR never saw them
    for (const p of pk().rpms) await rm(env.blobs.path(p.sha256), { force: true });
    const ctx = env.ctx(1, { outputs: checkpointed({ 'fetch-metadata': metadataOf(xml()), 'fetch-packages': out }) });
    expect(await checkHeaders.run(ctx)).toEqual({ headers: await headersOf(pk().rpms) });
    for (const p of pk().rpms) expect(await env.blobs.has(p.sha256)).toBe(true);
  });

  it('a package the store holds is got from it, not downloaded again from the provider (another machine fetched it)', async () => {
    await storeAt('objects');
    const ctx = () => env.ctx(1, { outputs: checkpointed({ 'fetch-metadata': metadataOf(xml()) }) });
    await fetchPackages.run(ctx());
    const downloads = provider.requests.length;
    // a machine whose STORAGE_DIR never saw them
    for (const p of pk().rpms) await rm(env.blobs.path(p.sha256), { force: true });
    const out = await fetchPackages.run(ctx());
    expect(provider.requests.length).toBe(downloads);
    expect(out.packages.map((p) => p.sha256)).toEqual(pk().rpms.map((p) => p.sha256));
    for (const p of pk().rpms) expect(await env.blobs.has(p.sha256)).toBe(true);
  });

  it('fails transiently while the store is away, keeping the downloads; the retry puts them without downloading again', async () => {
    const { store: away, dir } = await storeAt('unmounted', false);
    const ctx = env.ctx(1, { outputs: checkpointed({ 'fetch-metadata': metadataOf(xml()) }) });
    const e = await fails(fetchPackages.run(ctx), 'RD_STORE_UNAVAILABLE');
    expect(e.permanent).toBe(false);
    const downloads = provider.requests.length;

    await mkdir(dir); // the mount is back
    const out = await fetchPackages.run(ctx);
    expect(provider.requests.length).toBe(downloads);
    expect(out.packages.map((p) => p.sha256)).toEqual(pk().rpms.map((p) => p.sha256));
    for (const p of pk().rpms) expect(await away.head(blobKey(p.sha256))).toEqual({ size: p.size, sha256: p.sha256 });
  });
});
