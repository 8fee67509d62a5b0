import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * OpenPGP keys for tests, made by the real gpg in a throw-away home (its agent killed afterwards).
 * RSA-3072 takes about a second: make them once per file, in beforeAll.
 */
export interface TestKey {
  /** the ASCII-armoured secret key, as SIGNING_KEY_FILES takes it */
  secret: string;
  /** the ASCII-armoured public key, as a site holds it */
  public: string;
  fingerprint: string;
  /** the file holding the passphrase, when the key has one */
  passphraseFile?: string;
}

export interface TestKeyOptions {
  /** gpg --quick-gen-key algorithm: rsa3072 (default), rsa2048, ed25519 */
  algo?: string;
  passphrase?: string;
  /** made on 2020-01-01 with one day of validity */
  expired?: boolean;
  revoked?: boolean;
}

const run = promisify(execFile);

export async function makeTestKey(dir: string, name: string, o: TestKeyOptions = {}): Promise<TestKey> {
  await mkdir(dir, { recursive: true });
  const home = await mkdtemp(join(dir, 'gpg-'));
  await writeFile(join(home, 'gpg-agent.conf'), 's2k-count 65536\n'); // protecting a passphrase key takes seconds otherwise
  const gpg = (...args: string[]) =>
    run('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', o.passphrase ?? '', ...args]);
  try {
    const when = o.expired ? ['--faked-system-time', '20200101T000000'] : [];
    const uid = `${name} <${name}@releasedesk.test>`;
    await gpg(...when, '--cert-digest-algo', 'SHA256', '--quick-gen-key', uid, o.algo ?? 'rsa3072', 'sign', o.expired ? '1d' : '1y');
    const colons = (await gpg('--with-colons', '--with-fingerprint', '--list-keys', uid)).stdout;
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
    if (o.revoked) await revoke(home, fingerprint, gpg);
    const key: TestKey = { secret: join(dir, `${name}.sec.asc`), public: join(dir, `${name}.pub.asc`), fingerprint };
    await writeFile(key.secret, (await gpg('--armor', '--export-secret-keys', fingerprint)).stdout, { mode: 0o600 });
    await writeFile(key.public, (await gpg('--armor', '--export', fingerprint)).stdout);
    if (o.passphrase !== undefined) {
      key.passphraseFile = join(dir, `${name}.pass`);
      await writeFile(key.passphraseFile, `${o.passphrase}\n`, { mode: 0o600 });
    }
    return key;
  } finally {
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

/** gpg stores a revocation certificate for every key it makes, its armour line disarmed by a leading ':'. */
async function revoke(home: string, fingerprint: string, gpg: (...args: string[]) => Promise<unknown>): Promise<void> {
  const dir = join(home, 'openpgp-revocs.d');
  const name = (await readdir(dir)).find((n) => n.startsWith(fingerprint))!;
  const cert = (await readFile(join(dir, name), 'utf8')).replace(/^:-----/m, '-----');
  await writeFile(join(home, 'revoke.asc'), cert);
  await gpg('--import', join(home, 'revoke.asc'));
}

/** The fingerprints of the primary keys in an armoured key file (a throw-away gpg home reads it). */
export async function fingerprintsIn(file: string): Promise<string[]> {
  const home = await mkdtemp(join(tmpdir(), 'rd-gpg-show-'));
  try {
    const { stdout } = await run('gpg', ['--homedir', home, '--batch', '--show-keys', '--with-colons', '--with-fingerprint', file]);
    return [...stdout.matchAll(/^pub:.*\nfpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]!);
  } finally {
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

/** The home dirs (with their agents) the signer of storageDir has now: none once it stopped. */
export async function signingHomes(storageDir: string): Promise<string[]> {
  return readdir(join(storageDir, 'signing', 'gnupg')).catch(() => []);
}

/** gpg-agent processes whose command line names dir (a signer's home): to prove stop() ended them. */
export async function agentsUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('gpg-agent') && cmd.includes(dir)) pids.push(Number(pid));
  }
  return pids;
}
