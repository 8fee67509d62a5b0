import { readFile } from 'node:fs/promises';
import { errCode } from '../storage/blobs.ts';
import { gpg, parseColonKeys, type ColonKey } from './gpg.ts';

/**
 * A configured key file, read and judged before the service starts: a key the sites cannot verify, or
 * one gpg cannot sign with, must stop the start, not surface later as failed or unsigned publications.
 */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

export interface KeyFile {
  /** the ASCII-armoured secret key */
  file: string;
  /** its passphrase, one line; none when the key is not protected */
  passphraseFile?: string;
}

export interface SigningKey extends KeyFile {
  fingerprint: string;
  /** keygrips of the primary key and its subkeys: what the agent unlocks with the passphrase */
  keygrips: string[];
  /** Unix seconds, or null when the key does not expire */
  expires: number | null;
  armored: string;
  passphrase?: string;
}

/** EL8's rpm (which checks repomd.xml.asc for dnf there) verifies RSA but not EdDSA; below 3072 bits is weak. */
export const MIN_RSA_BITS = 3072;

const fail = (k: KeyFile, problem: string, todo: string) => new SigningKeyError(`signing key ${k.file}: ${problem}; ${todo}`);

/** Reads and checks one key file with gpg --show-keys (nothing is imported yet). */
export async function readKeyFile(home: string, k: KeyFile, now = Date.now()): Promise<SigningKey> {
  const armored = await readFile(k.file, 'utf8').catch((e) => {
    const why = errCode(e) === 'ENOENT' ? 'no such file' : `cannot be read (${errCode(e) ?? (e as Error).message})`;
    throw fail(k, why, 'check the path in SIGNING_KEY_FILES and that the service user may read it');
  });
  const listing = await gpg(['--show-keys', '--with-colons', '--with-fingerprint', '--with-keygrip'], { home, input: armored }).catch(
    () => ({ stdout: '' }),
  );
  const keys = parseColonKeys(listing.stdout);
  const howToExport = 'export it with gpg --export-secret-keys --armor FINGERPRINT > FILE';
  if (keys.length === 0) throw fail(k, 'holds no OpenPGP key', howToExport);
  if (keys.length > 1) throw fail(k, `holds ${keys.length} keys`, 'give one key per file, in the order of SIGNING_KEY_FILES');
  const key = keys[0]!;
  const primary = key[0]!;
  if (primary.type !== 'sec') throw fail(k, `holds the public key ${primary.fingerprint} only, not its secret key`, howToExport);
  if (primary.validity === 'r') throw fail(k, `key ${primary.fingerprint} is revoked`, 'configure another key');
  if (primary.validity === 'e' || (primary.expires !== null && primary.expires * 1000 <= now)) {
    const when = primary.expires ? ` on ${new Date(primary.expires * 1000).toISOString().slice(0, 10)}` : '';
    throw fail(
      k,
      `key ${primary.fingerprint} expired${when}`,
      `extend it (gpg --quick-set-expire ${primary.fingerprint} 3y) and export it again, or configure another key`,
    );
  }
  if (!primary.capabilities.includes('S')) throw fail(k, `key ${primary.fingerprint} has no usable signing key`, 'configure a signing key');
  const weak = key.find((s) => s.capabilities.includes('s') && !'er'.includes(s.validity) && !strongEnough(s));
  if (weak) {
    throw fail(
      k,
      `key ${primary.fingerprint} signs with ${describe(weak)}, which sites cannot all verify (EL8's rpm has no EdDSA)`,
      `use an RSA key of ${MIN_RSA_BITS} bits or more (gpg --quick-gen-key UID rsa${MIN_RSA_BITS} sign 3y)`,
    );
  }
  return {
    ...k,
    fingerprint: primary.fingerprint,
    keygrips: key.map((s) => s.keygrip).filter(Boolean),
    expires: primary.expires,
    armored,
    passphrase: await readPassphrase(k),
  };
}

function strongEnough(s: ColonKey): boolean {
  return (s.algo === 1 || s.algo === 3) && s.bits >= MIN_RSA_BITS;
}

function describe(s: ColonKey): string {
  if (s.algo === 1 || s.algo === 3) return `RSA-${s.bits}`;
  if (s.algo === 22) return `EdDSA (${s.curve || 'ed25519'})`;
  return `${{ 17: 'DSA', 19: 'ECDSA' }[s.algo] ?? `algorithm ${s.algo}`}${s.curve ? ` (${s.curve})` : ` ${s.bits} bits`}`;
}

/** The passphrase is the file's first line (a trailing newline is what editors and echo add, not part of it). */
async function readPassphrase(k: KeyFile): Promise<string | undefined> {
  if (!k.passphraseFile) return undefined;
  const text = await readFile(k.passphraseFile, 'utf8').catch((e) => {
    throw new SigningKeyError(
      `passphrase file ${k.passphraseFile} of signing key ${k.file}: ${errCode(e) === 'ENOENT' ? 'no such file' : `cannot be read (${errCode(e)})`}; ` +
        'check the path in SIGNING_PASSPHRASE_FILES (same order as SIGNING_KEY_FILES; an empty entry for a key without passphrase)',
    );
  });
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase === '') {
    throw new SigningKeyError(
      `passphrase file ${k.passphraseFile} of signing key ${k.file}: is empty; ` +
        'write the passphrase in it, or leave the entry empty in SIGNING_PASSPHRASE_FILES if the key has none',
    );
  }
  return passphrase;
}
