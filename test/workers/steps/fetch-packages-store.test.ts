/**
 * fetch-packages with an object store behind the blobs (BLOB_STORE): what the step's checkpoint names is in
 * the store when it returns, so another machine resumes from it. The directory store keeps this fast; the
 * S3 store is tested on a real Swift in test/services/storage/objects.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimBlobs, dropClaims, unusedBlobs } from '../../../services/db/blobs.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { blobKey } from '../../../services/storage/objects/blob-copies.ts';
import { FsObjectStore } from '../../../services/storage/objects/fs-store.ts';
import { backBlobsWith } from '../../../services/storage/objects/open.ts';
import type { ObjectStore } from '../../../services/storage/objects/store.ts';
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

describe('fetch-packages with an object store: its undo, and a purge racing its claim', () => {
  const ctx = (inbox = 1) => env.ctx(inbox, { outputs: checkpointed({ 'fetch-metadata': metadataOf(xml()) }) });

  it('the undo deletes from the store too the blobs nobody else uses; one another action in flight claimed stays', async () => {
    const { store } = await storeAt('objects');
    const [mine, , claimed] = pk().rpms;
    await claimBlobs(env.db, 99, [{ sha256: claimed!.sha256, size: claimed!.size }]);
    const out = checkpointed(await fetchPackages.run(ctx()));
    await fetchPackages.undo!(ctx(), out);
    expect(await store.head(blobKey(mine!.sha256))).toBeNull();
    expect(await env.blobs.has(mine!.sha256)).toBe(false);
    expect(await store.head(blobKey(claimed!.sha256))).toEqual({ size: claimed!.size, sha256: claimed!.sha256 });
    expect(await env.blobs.has(claimed!.sha256)).toBe(true);
  });

  it('the store away during the undo: it fails, its claims go, and the blobs stay recorded for retention (leftovers)', async () => {
    const { store, dir } = await storeAt('objects');
    const out = checkpointed(await fetchPackages.run(ctx()));
    await rename(dir, `${dir}.away`); // the mount is gone
    try {
      await fails(fetchPackages.undo!(ctx(), out), 'RD_STORE_UNAVAILABLE');
    } finally {
      await rename(`${dir}.away`, dir);
    }
    expect(await env.db('blob_claims').count('* as n')).toEqual([{ n: 0 }]);
    const tomorrow = new Date(Date.now() + 86_400_000);
    expect((await unusedBlobs(env.db, tomorrow)).map((b) => b.sha256).sort()).toEqual(
      pk()
        .rpms.map((p) => p.sha256)
        .sort(),
    );
    for (const p of pk().rpms) {
      expect(await store.head(blobKey(p.sha256))).not.toBeNull();
      expect(await env.blobs.has(p.sha256)).toBe(true);
    }
  });

  it('puts a blob back into the store when a purge deleted it there after the fetch found it and before its claim', async () => {
    const { store } = await storeAt('objects');
    await fetchPackages.run(ctx(1));
    await dropClaims(env.db, 1); // action 1 is over: nothing claims the blobs, a purge may delete them
    // action 2 finds them here and in the store; a purge on another machine deletes each object right after
    const seen = new Set<string>();
    const racing: ObjectStore = Object.assign(Object.create(store), {
      head: async (key: string) => {
        const h = await store.head(key);
        if (!seen.has(key)) await store.delete(key);
        seen.add(key);
        return h;
      },
    });
    backBlobsWith(env.config.STORAGE_DIR, racing);
    const out = await fetchPackages.run(ctx(2));
    expect(out.adopted).toEqual([]);
    for (const p of pk().rpms) expect(await store.head(blobKey(p.sha256))).toEqual({ size: p.size, sha256: p.sha256 });
  });
});
