import { randomBytes } from 'node:crypto';
import { access, link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errCode } from '../storage/blobs.ts';
import { gpg } from './gpg.ts';

/**
 * The key used when none is configured, made on first start: a service that installs and runs without
 * key management still publishes signed repositories, and the operator backs up one file.
 */
export const DEFAULT_KEY_FILE = 'releasedesk-signing.asc';
export const DEFAULT_KEY_UID = 'releasedesk repository signing <releasedesk@localhost>';

/** The default key file under signingDir, generated when missing; `generated` is its fingerprint when made now. */
export async function ensureDefaultKey(home: string, signingDir: string): Promise<{ file: string; generated?: string }> {
  const file = join(signingDir, DEFAULT_KEY_FILE);
  const exists = await access(file).then(
    () => true,
    (e) => (errCode(e) === 'ENOENT' ? false : Promise.reject(e)),
  );
  if (exists) return { file };
  await mkdir(signingDir, { recursive: true, mode: 0o700 });
  const { fingerprint, armored } = await generate(home);
  // Written aside, then linked into place: link() never replaces, so when two processes start at once
  // on a fresh STORAGE_DIR exactly one key wins and both use it.
  const tmp = join(signingDir, `.${DEFAULT_KEY_FILE}.${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(armored);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
    return { file, generated: fingerprint };
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw e;
    return { file };
  } finally {
    await unlink(tmp);
  }
}

/**
 * RSA-3072, sign only, three years, no passphrase: the service must start unattended, and the file's mode
 * (0600) is what protects it. SHA-256 self-signatures said explicitly (apt in Debian 13 refuses SHA-1
 * bindings; gpg 2.2.40 would otherwise pick SHA-512 from its own preferences).
 */
async function generate(home: string): Promise<{ fingerprint: string; armored: string }> {
  const base = ['--passphrase', '', '--cert-digest-algo', 'SHA256'];
  const made = await gpg([...base, '--yes', '--status-fd', '1', '--quick-gen-key', DEFAULT_KEY_UID, 'rsa3072', 'sign', '3y'], { home });
  const fingerprint = /^\[GNUPG:\] KEY_CREATED [A-Z] ([0-9A-F]{40})$/m.exec(made.stdout)?.[1];
  if (!fingerprint) throw new Error(`gpg --quick-gen-key reported no new key: ${made.stderr.trim()}`);
  const { stdout } = await gpg([...base, '--armor', '--export-secret-keys', fingerprint], { home });
  return { fingerprint, armored: stdout };
}
