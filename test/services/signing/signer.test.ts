import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_UID } from '../../../services/signing/default-key.ts';
import type { KeyFile } from '../../../services/signing/key-file.ts';
import { publicKeysDir, startSigner } from '../../../services/signing/signer.ts';
import { agentsUnder, fingerprintsIn, makeTestKey, signingHomes, type TestKey } from '../../support/signing-keys.ts';

// Start-up: every bad key stops the start with one line naming the file and the fix; good keys sign.
const run = promisify(execFile);
let root: string;
let scratch: string; // the home of the test's own gpg runs: never the user's ~/.gnupg
const gpg = (...args: string[]) => run('gpg', ['--homedir', scratch, '--batch', ...args]);
let good: TestKey;
let guarded: TestKey; // RSA-3072 with a passphrase
let other: TestKey; // RSA-3072 with another passphrase

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-signer-'));
  scratch = join(root, 'gpg');
  await mkdir(scratch, { mode: 0o700 });
  const keys = join(root, 'keys');
  [good, guarded, other] = await Promise.all([
    makeTestKey(keys, 'good'),
    makeTestKey(keys, 'guarded', { passphrase: 'first secret phrase' }),
    makeTestKey(keys, 'other', { passphrase: 'a different one' }),
  ]);
});
afterAll(async () => {
  await run('gpgconf', ['--homedir', scratch, '--kill', 'gpg-agent']).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const storage = async () => {
  const dir = join(root, `storage-${++n}`);
  await mkdir(dir);
  return dir;
};

/** The one line a bad key gives, and that nothing of the attempt is left behind. */
async function refusal(keys: KeyFile[]): Promise<string> {
  const storageDir = await storage();
  const err = await startSigner({ storageDir, keys }).then(
    (s) => s.stop().then(() => new Error('started')),
    (e: Error) => e,
  );
  expect(err.name).toBe('SigningKeyError');
  expect(err.message).not.toContain('\n');
  expect(await signingHomes(storageDir)).toEqual([]);
  return err.message;
}

/**
 * gpgv with only `key` as keyring: whether a signature by that key verifies. By status, not exit code:
 * gpgv fails a file that also carries a signature it has no key for, where apt and dnf accept it.
 */
async function verifies(key: string, sig: string, data?: string): Promise<boolean> {
  const ring = join(root, `ring-${++n}.gpg`);
  await gpg('--dearmor', '--output', ring, key);
  const out = await run('gpgv', ['--homedir', scratch, '--status-fd', '1', '--keyring', ring, sig, ...(data ? [data] : [])]).catch(
    (e: { stdout: string }) => e,
  );
  return /^\[GNUPG:\] VALIDSIG /m.test(out.stdout);
}

describe('start-up validation: one line naming the file and what to do', () => {
  it('a missing key file', async () => {
    const file = join(root, 'nowhere.asc');
    expect(await refusal([{ file }])).toBe(
      `signing key ${file}: no such file; check the path in SIGNING_KEY_FILES and that the service user may read it`,
    );
  });

  it('an unreadable key file (a directory: the tests run as root, who reads any mode)', async () => {
    const file = join(root, 'adir.asc');
    await mkdir(file);
    expect(await refusal([{ file }])).toBe(
      `signing key ${file}: cannot be read (EISDIR); check the path in SIGNING_KEY_FILES and that the service user may read it`,
    );
  });

  it('a file that is not a key, or a public key only', async () => {
    const junk = join(root, 'junk.asc');
    await writeFile(junk, 'hello\n');
    expect(await refusal([{ file: junk }])).toMatch(
      /^signing key .*junk.asc: holds no OpenPGP key; export it with gpg --export-secret-keys/,
    );
    expect(await refusal([{ file: good.public }])).toBe(
      `signing key ${good.public}: holds the public key ${good.fingerprint} only, not its secret key; ` +
        'export it with gpg --export-secret-keys --armor FINGERPRINT > FILE',
    );
  });

  it('an expired key', async () => {
    const k = await makeTestKey(join(root, 'bad'), 'expired', { algo: 'rsa1024', expired: true });
    expect(await refusal([{ file: k.secret }])).toBe(
      `signing key ${k.secret}: key ${k.fingerprint} expired on 2020-01-02; ` +
        `extend it (gpg --quick-set-expire ${k.fingerprint} 3y) and export it again, or configure another key`,
    );
  });

  it('a revoked key', async () => {
    const k = await makeTestKey(join(root, 'bad'), 'revoked', { algo: 'rsa1024', revoked: true });
    expect(await refusal([{ file: k.secret }])).toBe(`signing key ${k.secret}: key ${k.fingerprint} is revoked; configure another key`);
  });

  it.each([
    ['rsa2048', 'RSA-2048'],
    ['ed25519', 'EdDSA (ed25519)'],
  ])('a %s key', async (algo, shown) => {
    const k = await makeTestKey(join(root, 'bad'), algo, { algo });
    expect(await refusal([{ file: k.secret }])).toBe(
      `signing key ${k.secret}: key ${k.fingerprint} signs with ${shown}, which sites cannot all verify (EL8's rpm has no EdDSA); ` +
        'use an RSA key of 3072 bits or more (gpg --quick-gen-key UID rsa3072 sign 3y)',
    );
  });

  it('a wrong passphrase, a missing one, a missing passphrase file', async () => {
    const wrong = join(root, 'wrong.pass');
    await writeFile(wrong, 'not it\n');
    expect(await refusal([{ file: good.secret }, { file: guarded.secret, passphraseFile: wrong }])).toBe(
      `signing key ${guarded.secret}: the passphrase in ${wrong} does not unlock it; put the right passphrase in that file`,
    );
    expect(await refusal([{ file: guarded.secret }])).toMatch(
      /: it is protected by a passphrase and SIGNING_PASSPHRASE_FILES gives none for it;/,
    );
    expect(await refusal([{ file: guarded.secret, passphraseFile: join(root, 'gone.pass') }])).toMatch(
      /^passphrase file .*gone.pass of signing key .*guarded.sec.asc: no such file; check the path in SIGNING_PASSPHRASE_FILES/,
    );
  });

  it('the same key twice', async () => {
    expect(await refusal([{ file: good.secret }, { file: good.secret }])).toMatch(/is configured twice; list each key once/);
  });
});

describe('trusted bundle keys (TRUSTED_BUNDLE_KEYS): one line at start for a bad file', () => {
  const refusedTrust = async (file: string) => {
    const err = await startSigner({ storageDir: await storage(), keys: [], trustedKeys: [file] }).then(
      (s) => s.stop().then(() => new Error('started')),
      (e: Error) => e,
    );
    expect(err.name).toBe('SigningKeyError');
    expect(err.message).not.toContain('\n');
    return err.message;
  };
  it('a missing file, and a file that holds no key', async () => {
    expect(await refusedTrust(join(root, 'nope.asc'))).toMatch(
      /trusted bundle key .*nope\.asc: no such file; check the path in TRUSTED_BUNDLE_KEYS/,
    );
    const junk = join(root, 'junk.asc');
    await writeFile(junk, 'not a key\n');
    expect(await refusedTrust(junk)).toMatch(/junk\.asc: holds no OpenPGP public key/);
  });
});

describe('signing', () => {
  it('with no key configured: generates an RSA-3072 sign-only key with SHA-256 self-signatures, once', async () => {
    const storageDir = await storage();
    const first = await startSigner({ storageDir, keys: [] });
    await first.stop();
    const file = join(storageDir, 'signing', 'releasedesk-signing.asc');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { stdout } = await gpg('--show-keys', '--with-colons', file);
    expect(stdout).toMatch(/^sec:-:3072:1:[0-9A-F]{16}:[0-9]+:[0-9]+::-:::scSC:/m);
    expect(stdout).toContain(`::${DEFAULT_KEY_UID}:`);
    const packets = (await gpg('--list-packets', file)).stdout;
    expect([...packets.matchAll(/digest algo (\d+)/g)].map((m) => m[1])).toEqual(['8']); // SHA-256
    const again = await startSigner({ storageDir, keys: [] });
    expect(again.fingerprints).toEqual(first.fingerprints);
    await again.stop();
  });

  it('signs with both keys of a rotation, each with its own passphrase; stop ends the agent and removes the home', async () => {
    const storageDir = await storage();
    const s = await startSigner({
      storageDir,
      keys: [
        { file: guarded.secret, passphraseFile: guarded.passphraseFile },
        { file: other.secret, passphraseFile: other.passphraseFile },
      ],
    });
    const [home] = await signingHomes(storageDir);
    expect((await stat(join(storageDir, 'signing', 'gnupg', home!))).mode & 0o777).toBe(0o700);
    expect(await agentsUnder(home!)).toHaveLength(1);
    const repo = join(root, 'flat');
    await mkdir(join(repo, 'repodata'), { recursive: true });
    await writeFile(join(repo, 'Release'), 'Origin: test\n');
    await writeFile(join(repo, 'repodata', 'repomd.xml'), '<repomd/>\n');
    await s.signRepository(repo, 'apt');
    await s.signRepository(repo, 'yum');
    for (const k of [guarded, other]) {
      expect(await verifies(k.public, join(repo, 'InRelease'))).toBe(true);
      expect(await verifies(k.public, join(repo, 'Release.gpg'), join(repo, 'Release'))).toBe(true);
      expect(await verifies(k.public, join(repo, 'repodata', 'repomd.xml.asc'), join(repo, 'repodata', 'repomd.xml'))).toBe(true);
    }
    expect(await verifies(good.public, join(repo, 'InRelease'))).toBe(false);
    await s.stop();
    expect(await signingHomes(storageDir)).toEqual([]);
    expect(await agentsUnder(home!)).toEqual([]);
  });

  it('exports the public keys, and withdraws the file of a key no longer configured', async () => {
    const storageDir = await storage();
    const both = await startSigner({
      storageDir,
      keys: [{ file: good.secret }, { file: guarded.secret, passphraseFile: guarded.passphraseFile }],
    });
    await both.stop();
    const dir = publicKeysDir(storageDir);
    expect((await readdir(dir)).sort()).toEqual([`${good.fingerprint}.asc`, `${guarded.fingerprint}.asc`, 'releasedesk.asc'].sort());
    expect(await fingerprintsIn(join(dir, 'releasedesk.asc'))).toEqual([good.fingerprint, guarded.fingerprint]);
    expect(await fingerprintsIn(join(dir, `${good.fingerprint}.asc`))).toEqual([good.fingerprint]);
    expect(await readFile(join(dir, `${good.fingerprint}.asc`), 'utf8')).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    const one = await startSigner({ storageDir, keys: [{ file: guarded.secret, passphraseFile: guarded.passphraseFile }] });
    await one.stop();
    expect((await readdir(dir)).sort()).toEqual([`${guarded.fingerprint}.asc`, 'releasedesk.asc'].sort());
  });
});
