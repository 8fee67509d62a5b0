import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readValue } from '../../services/db/kv.ts';
import { createLogger } from '../../services/log.ts';
import { startSigner, type Signer } from '../../services/signing/signer.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import { publishDistribution } from '../../services/storage/dist-publish.ts';
import { distPaths } from '../../services/storage/dist-ref.ts';
import { makeIndexEntries } from '../../services/storage/index-entries.ts';
import { publishRepository } from '../../services/storage/publish.ts';
import { liveVersion } from '../../services/storage/repo-layout.ts';
import { resignIfKeysChanged } from '../../workers/resign.ts';
import { useTestDb } from '../support/db.ts';
import { adoptTestPackages, buildTestPackages } from '../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveStorage, type StaticServer } from '../support/repo-clients.ts';
import { makeTestKey, type TestKey } from '../support/signing-keys.ts';

// A rotation's last step without waiting for every repository to be published again: after the keys
// change, every live repository, product and distribution, is signed again with the keys now configured.
const env = useTestDb();
const log = createLogger('silent');
let root: string;
let storageDir: string;
let server: StaticServer;
let old: TestKey;
let next: TestKey;
const signers: Signer[] = [];
const signer = async (...keys: TestKey[]) => {
  const s = await startSigner({ storageDir, keys: keys.map((k) => ({ file: k.secret, passphraseFile: k.passphraseFile })) });
  signers.push(s);
  return s;
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-resign-'));
  storageDir = join(root, 'storage');
  const made = await Promise.all([
    makeTestKey(join(root, 'keys'), 'old', { passphrase: 'o' }),
    makeTestKey(join(root, 'keys'), 'next'),
    buildTestPackages(join(root, 'pkgs'), 3),
  ]);
  [old, next] = made;
  const store = new BlobStore(storageDir);
  await store.init();
  const rpms = await adoptTestPackages(store, made[2].rpms);
  const debs = await adoptTestPackages(store, made[2].debs);
  const byOld = await signer(old);
  server = await serveStorage(storageDir);
  const opts = { storageDir, publicUrl: server.url, signer: byOld };
  await publishRepository({ stage: 'production', product: 'P.yum', kind: 'yum' }, rpms, opts);
  await publishRepository({ stage: 'production', product: 'P.apt', kind: 'apt' }, debs, opts);
  const entries = { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 };
  await publishDistribution(
    { stage: 'production', kind: 'yum', platform: 'el9', arch: 'noarch' },
    await makeIndexEntries(storageDir, 'yum', rpms, entries),
    opts,
  );
  await publishDistribution(
    { stage: 'production', kind: 'apt', platform: 'debian12', arch: 'all' },
    await makeIndexEntries(storageDir, 'apt', debs, entries),
    opts,
  );
}, 120_000);
afterAll(async () => {
  await server?.close();
  for (const s of signers) await s.stop();
  await rm(root, { recursive: true, force: true });
});

const repos = (s: StaticServer) => ({
  yum: `${s.url}/repos/production/P.yum/`,
  apt: `${s.url}/repos/production/P.apt/`,
  distYum: `${s.url}/repos/dist/yum/el9/noarch/production/`,
  distApt: `${s.url}/repos/dist/apt/debian12/`,
});
async function verifiesWith(key: TestKey): Promise<boolean[]> {
  const r = repos(server);
  return Promise.all([
    checkYumRepo(r.yum, 'testpkg', { GPGKEY: key.public }).then((c) => c.ok),
    checkAptRepo(r.apt, 'testpkg', { KEY: key.public }).then((c) => c.ok),
    checkYumRepo(r.distYum, 'testpkg', { GPGKEY: key.public }).then((c) => c.ok),
    checkAptRepo(r.distApt, 'testpkg', { KEY: key.public, SUITE: 'production' }).then((c) => c.ok),
  ]);
}

describe('re-signing after the keys changed', () => {
  it('signs every live repository with the keys now configured, once, keeping the packages', async () => {
    expect(await verifiesWith(next)).toEqual([false, false, false, false]);
    const distDir = distPaths(storageDir, { stage: 'production', kind: 'yum', platform: 'el9', arch: 'noarch' });
    const before = (await liveVersion(distDir))!.version;

    const byNext = await signer(next);
    expect(await resignIfKeysChanged(env.db, storageDir, byNext, log)).toBe(4);
    expect(await verifiesWith(next)).toEqual([true, true, true, true]);
    expect(await verifiesWith(old)).toEqual([false, false, false, false]);
    expect((await liveVersion(distDir))!.version).toBe(before + 1);
    expect(await readValue(env.db, 'signing:fingerprints')).toBe(next.fingerprint);
    const live = (await liveVersion(distDir))!.dir;
    expect((await readdir(join(live, 'repodata'))).filter((n) => n.endsWith('.asc'))).toEqual(['repomd.xml.asc']);

    expect(await resignIfKeysChanged(env.db, storageDir, byNext, log)).toBe(0); // nothing changed since
    const both = await signer(old, next);
    expect(await resignIfKeysChanged(env.db, storageDir, both, log)).toBe(4);
    expect(await verifiesWith(old)).toEqual([true, true, true, true]);
  });
});
