import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpg } from './gpg.ts';

/** What sites fetch: every configured public key in one file, and each key alone by fingerprint. */
export const ALL_KEYS_FILE = 'releasedesk.asc';

export const keyFileName = (fingerprint: string) => `${fingerprint}.asc`;

/**
 * Writes the public keys into dir (served at PUBLIC_URL/keys/), each file replaced atomically, and removes
 * the files of keys no longer configured: a key taken out of rotation is no longer offered to sites.
 * Minimal exports: the self-signatures sites need, not the third-party signatures a key collected.
 */
export async function exportPublicKeys(home: string, fingerprints: string[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = new Map<string, string[]>([
    [ALL_KEYS_FILE, fingerprints],
    ...fingerprints.map((f) => [keyFileName(f), [f]] as [string, string[]]),
  ]);
  for (const [name, fprs] of files) {
    const { stdout } = await gpg(['--armor', '--export-options', 'export-minimal', '--export', ...fprs], { home });
    const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, stdout, { mode: 0o644 });
    await rename(tmp, join(dir, name));
  }
  for (const name of await readdir(dir)) {
    if (name.endsWith('.asc') && !name.startsWith('.') && !files.has(name)) await rm(join(dir, name), { force: true });
  }
}
