import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { publishRepository, type PublishResult } from '../../../services/storage/publish.ts';
import type { RepoKind, RepoPackage } from '../../../services/storage/repo-ref.ts';
import { adoptTestPackages, buildTestPackages } from '../../support/packages.ts';
import { checkAptRepo, checkYumRepo, serveStorage, type StaticServer } from '../../support/repo-clients.ts';
import { fingerprintsIn, makeTestKey, type TestKey } from '../../support/signing-keys.ts';

// The real apt and dnf, as a site runs them, against repositories published by publishRepository: they
// accept what releasedesk signed with a key they hold, and refuse, in their own words, an index changed
// after signing, a signature by a key they do not hold, and no signature. A rotation (two keys) serves
// sites holding either key.
let root: string;
let storageDir: string;
let server: StaticServer;
let old: TestKey; // the key sites hold today, with a passphrase
let next: TestKey; // the key being rotated in, with another passphrase
let stranger: TestKey; // a key no publication uses
let rpms: RepoPackage[];
let debs: RepoPackage[];
let signer: Signer; // OLD alone

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-signed-'));
  storageDir = join(root, 'storage');
  const keys = join(root, 'keys');
  const made = await Promise.all([
    makeTestKey(keys, 'old', { passphrase: 'old phrase' }),
    makeTestKey(keys, 'next', { passphrase: 'next phrase' }),
    makeTestKey(keys, 'stranger'),
    buildTestPackages(join(root, 'pkgs'), 3),
  ]);
  [old, next, stranger] = made;
  const store = new BlobStore(storageDir);
  await store.init();
  rpms = await adoptTestPackages(store, made[3].rpms);
  debs = await adoptTestPackages(store, made[3].debs);
  signer = await startSigner({ storageDir, keys: [{ file: old.secret, passphraseFile: old.passphraseFile }] });
  server = await serveStorage(storageDir);
});
afterAll(async () => {
  await server?.close();
  await signer?.stop();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const publish = (kind: RepoKind, by: Signer = signer): Promise<PublishResult> =>
  publishRepository({ stage: 'unverified', product: `signed.${kind}.${++n}`, kind }, kind === 'yum' ? rpms : debs, {
    storageDir,
    publicUrl: server.url,
    signer: by,
  });
const apt = (r: PublishResult, key: TestKey) => checkAptRepo(r.url, 'testpkg', { KEY: key.public });
const dnf = (r: PublishResult, key: TestKey) => checkYumRepo(r.url, 'testpkg', { GPGKEY: key.public });

/** Changes a signed line of a published file, as a compromised mirror or a bad disk would. */
async function tamper(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
}

describe('apt (signed-by the key the site holds)', () => {
  it('accepts the repository with the key it holds', async () => {
    const check = await apt(await publish('apt'), old);
    expect(check.output).toMatch(/^OK: apt sees testpkg 1.0.0-1 .*\[InRelease\/Release.gpg signature verified\]$/m);
  });

  it('refuses an InRelease changed after signing: BADSIG', async () => {
    const r = await publish('apt');
    await tamper(join(r.dir, 'InRelease'), 'Origin: releasedesk', 'Origin: releasedesX');
    const check = await apt(r, old);
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/The following signatures were invalid: BADSIG [0-9A-F]{16}/);
  });

  it('refuses a Release changed after signing, read with Release.gpg: BADSIG', async () => {
    const r = await publish('apt');
    await unlink(join(r.dir, 'InRelease'));
    await tamper(join(r.dir, 'Release'), 'Origin: releasedesk', 'Origin: releasedesX');
    const check = await apt(r, old);
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/BADSIG [0-9A-F]{16}/);
  });

  it('refuses a repository signed by a key the site does not hold: NO_PUBKEY', async () => {
    const check = await apt(await publish('apt'), stranger);
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/NO_PUBKEY [0-9A-F]{16}/);
  });

  it('refuses an unsigned repository: is not signed', async () => {
    const r = await publish('apt');
    await Promise.all(['InRelease', 'Release.gpg'].map((f) => unlink(join(r.dir, f))));
    const check = await apt(r, old);
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/The repository '.*' is not signed\./);
  });
});

describe('dnf (repo_gpgcheck=1, skip_if_unavailable=0)', () => {
  it('accepts the repository with the key it holds', async () => {
    const check = await dnf(await publish('yum'), old);
    expect(check.output).toMatch(/^OK: dnf sees testpkg-1.0.0-1.noarch .*\[repomd.xml signature verified\]$/m);
  });

  it('refuses a repomd.xml changed after signing: Bad GPG signature', async () => {
    const r = await publish('yum');
    await tamper(join(r.dir, 'repodata', 'repomd.xml'), '<revision>', '<revision>1');
    const check = await dnf(r, old);
    expect(check.code).toBe(1);
    expect(check.output).toContain('repomd.xml GPG signature verification error: Bad GPG signature');
  });

  it('refuses a repository signed by a key the site does not hold', async () => {
    const check = await dnf(await publish('yum'), stranger);
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/Importing GPG key 0x[0-9A-F]{8}:\s+dnf:\s+Userid\s+: "stranger /);
    // dnf (libdnf 0.69) words a signature by an unknown key like a changed file
    expect(check.output).toContain('repomd.xml GPG signature verification error: Bad GPG signature');
  });

  it('refuses an unsigned repository', async () => {
    const r = await publish('yum');
    await unlink(join(r.dir, 'repodata', 'repomd.xml.asc'));
    const check = await dnf(r, old);
    expect(check.code).toBe(1);
    expect(check.output).toContain('GPG verification is enabled, but GPG signature is not available');
  });
});

describe('key rotation: OLD and NEW both configured', () => {
  let both: Signer;
  beforeAll(async () => {
    both = await startSigner({
      storageDir,
      keys: [
        { file: old.secret, passphraseFile: old.passphraseFile },
        { file: next.secret, passphraseFile: next.passphraseFile },
      ],
    });
  });
  afterAll(async () => {
    await both?.stop();
  });

  it('a site holding only OLD and a site holding only NEW both verify, with apt and with dnf', async () => {
    const [a, y] = await Promise.all([publish('apt', both), publish('yum', both)]);
    for (const key of [old, next]) {
      expect((await apt(a, key)).output).toMatch(/signature verified/);
      expect((await dnf(y, key)).output).toMatch(/signature verified/);
    }
    expect((await apt(a, stranger)).output).toMatch(/NO_PUBKEY/);
  });

  it('the served releasedesk.asc holds both keys, and is what a site fetches', async () => {
    const [a, y] = await Promise.all([publish('apt', both), publish('yum', both)]);
    expect((await checkAptRepo(a.url, 'testpkg')).ok).toBe(true); // the key fetched from /keys/releasedesk.asc
    expect((await checkYumRepo(y.url, 'testpkg')).ok).toBe(true);
    const served = join(root, 'served.asc');
    await writeFile(served, await (await fetch(`${server.url}/keys/releasedesk.asc`)).text());
    expect(await fingerprintsIn(served)).toEqual([old.fingerprint, next.fingerprint]);
    await writeFile(served, await (await fetch(`${server.url}/keys/${next.fingerprint}.asc`)).text());
    expect(await fingerprintsIn(served)).toEqual([next.fingerprint]);
  });

  it('once OLD is removed, a site that never fetched NEW is refused: why sites must fetch the key first', async () => {
    const only = await startSigner({ storageDir, keys: [{ file: next.secret, passphraseFile: next.passphraseFile }] });
    try {
      const r = await publish('apt', only);
      expect((await apt(r, old)).output).toMatch(/NO_PUBKEY/);
      expect((await apt(r, next)).ok).toBe(true);
    } finally {
      await only.stop();
    }
  });
});
