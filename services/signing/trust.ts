import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RdError } from '../errors.ts';
import { errCode } from '../storage/blobs.ts';
import { ToolError } from '../storage/run-tool.ts';
import { gpg, parseColonKeys } from './gpg.ts';
import { SigningKeyError } from './key-file.ts';

/**
 * The public keys of other desks whose bundles this desk imports (TRUSTED_BUNDLE_KEYS), kept in a keyring of
 * their own: a signature verifies only against them, never against this desk's own signing keys or a key
 * that happened to be imported for another reason.
 */
export interface TrustedKeys {
  readonly fingerprints: readonly string[];
  /** The primary fingerprint that made a good signature of `data`, or RD_BUNDLE_UNTRUSTED / RD_BUNDLE_TAMPERED. */
  verify(data: string, signature: string, what: string): Promise<string>;
}

/** Reads each file (armoured or binary public keys, one or more each) into the trust keyring; a bad file stops the start. */
export async function loadTrustedKeys(home: string, files: readonly string[], keysName = 'TRUSTED_BUNDLE_KEYS'): Promise<TrustedKeys> {
  const keyring = join(home, 'trusted-bundle-keys.kbx');
  const fingerprints: string[] = [];
  for (const file of files) {
    const bytes = await readFile(file).catch((e) => {
      const why = errCode(e) === 'ENOENT' ? 'no such file' : `cannot be read (${errCode(e) ?? (e as Error).message})`;
      throw new SigningKeyError(
        `trusted bundle key ${file}: ${why}; check the path in TRUSTED_BUNDLE_KEYS and that the service user may read it`,
      );
    });
    const listing = await gpg(['--show-keys', '--with-colons', '--with-fingerprint'], { home, input: bytes.toString('latin1') }).catch(
      () => ({ stdout: '' }),
    );
    const keys = parseColonKeys(listing.stdout);
    if (keys.length === 0) {
      throw new SigningKeyError(
        `trusted bundle key ${file}: holds no OpenPGP public key; save the source desk's PUBLIC_URL/keys/releasedesk.asc there`,
      );
    }
    await gpg(['--no-default-keyring', '--keyring', keyring, '--import'], { home, input: bytes.toString('latin1') });
    fingerprints.push(...keys.map((k) => k[0]!.fingerprint));
  }
  return {
    fingerprints,
    verify: (data, signature, what) => verifyWith(home, keyring, new Set(fingerprints), data, signature, what, keysName),
  };
}

async function verifyWith(
  home: string,
  keyring: string,
  trusted: Set<string>,
  data: string,
  signature: string,
  what: string,
  keysName: string,
): Promise<string> {
  if (trusted.size === 0) {
    throw new RdError('RD_BUNDLE_UNTRUSTED', `${what}: no key to verify with (${keysName} is empty)`);
  }
  // gpg exits non-zero on any bad signature; what happened is in the status lines, written whatever the exit
  const statusFile = join(home, `verify-${randomBytes(6).toString('hex')}.status`);
  try {
    await gpg(['--no-default-keyring', '--keyring', keyring, '--status-file', statusFile, '--verify', signature, data], { home }).catch(
      (e) => {
        if (!(e instanceof ToolError) || e.failure !== 'exit') throw e;
      },
    );
    const status = await readFile(statusFile, 'utf8').catch(() => '');
    return judge(status, trusted, what, keysName);
  } finally {
    await rm(statusFile, { force: true });
  }
}

/** The status lines of one gpg --verify, judged: every signature must be good, and one made by a trusted key. */
export function judge(status: string, trusted: Set<string>, what: string, keysName = 'TRUSTED_BUNDLE_KEYS'): string {
  const lines = status.split('\n').map((l) => l.replace(/^\[GNUPG:\] /, '').split(' '));
  const has = (kw: string) => lines.find((f) => f[0] === kw);
  if (has('BADSIG')) throw new RdError('RD_BUNDLE_TAMPERED', `${what}: the signature does not match it (BADSIG): changed after signing`);
  if (has('NODATA') || !lines.some((f) => ['GOODSIG', 'ERRSIG', 'EXPKEYSIG', 'REVKEYSIG'].includes(f[0]!))) {
    throw new RdError('RD_BUNDLE_TAMPERED', `${what}: the signature file holds no OpenPGP signature`);
  }
  const err = has('ERRSIG');
  if (err) {
    throw new RdError('RD_BUNDLE_UNTRUSTED', `${what}: signed by key ${err[1]}, which is not among ${keysName}`, { keyId: err[1] });
  }
  for (const kw of ['EXPKEYSIG', 'REVKEYSIG'] as const) {
    const f = has(kw);
    if (f) {
      throw new RdError('RD_BUNDLE_UNTRUSTED', `${what}: signed by key ${f[1]}, which is ${kw === 'EXPKEYSIG' ? 'expired' : 'revoked'}`, {
        keyId: f[1],
      });
    }
  }
  const valid = lines.filter((f) => f[0] === 'VALIDSIG').map((f) => f.at(-1)!);
  const ok = valid.find((fpr) => trusted.has(fpr));
  if (!ok) throw new RdError('RD_BUNDLE_UNTRUSTED', `${what}: no signature by a key among ${keysName}`);
  return ok;
}
