import { join } from 'node:path';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../log.ts';
import type { RepoKind } from '../storage/repo-ref.ts';
import { ToolError } from '../storage/run-tool.ts';
import { createHome, presetPassphrases, startAgent, stopAgent } from './agent.ts';
import { ensureDefaultKey } from './default-key.ts';
import { gpg } from './gpg.ts';
import { readKeyFile, SigningKeyError, type KeyFile, type SigningKey } from './key-file.ts';
import { exportPublicKeys } from './public-keys.ts';
import { loadTrustedKeys, type TrustedKeys } from './trust.ts';

/**
 * Signs repository indexes with every configured key at once, so that during a key rotation a site that
 * holds either the old or the new key verifies. What a kind of repository signs:
 *   apt: Release -> InRelease (clear-signed) and Release.gpg (detached); the directory holding Release is
 *        a flat repository's root or a dists/<suite>/ directory alike;
 *   yum: repodata/repomd.xml -> repodata/repomd.xml.asc (detached).
 */
export interface Signer {
  /** of the configured keys, primary first */
  readonly fingerprints: readonly string[];
  /** Signs the index files of the repository in dir, in place: call it before dir goes live. */
  signRepository(dir: string, kind: RepoKind): Promise<void>;
  /** Writes `<file>.asc`, an armoured detached signature of file by every configured key (a bundle's manifest). */
  signFile(file: string): Promise<string>;
  /** The keys of other desks whose bundles this desk imports (TRUSTED_BUNDLE_KEYS). */
  readonly trusted: TrustedKeys;
  /** Stops the gpg-agent and removes the private GNUPGHOME. */
  stop(): Promise<void>;
}

export interface SignerOptions {
  storageDir: string;
  /** SIGNING_KEY_FILES with SIGNING_PASSPHRASE_FILES; empty: the default key, generated on first start */
  keys: KeyFile[];
  /** TRUSTED_BUNDLE_KEYS: public key files of the desks whose bundles are imported */
  trustedKeys?: readonly string[];
  log?: Logger;
}

/** SIGNING_KEY_FILES paired with SIGNING_PASSPHRASE_FILES (validated together by loadConfig). */
export function configuredKeys(config: Pick<Config, 'SIGNING_KEY_FILES' | 'SIGNING_PASSPHRASE_FILES'>): KeyFile[] {
  return config.SIGNING_KEY_FILES.map((file, i) => ({ file, passphraseFile: config.SIGNING_PASSPHRASE_FILES[i] || undefined }));
}

/** STORAGE_DIR/keys: the exported public keys, served at PUBLIC_URL/keys/. */
export const publicKeysDir = (storageDir: string) => join(storageDir, 'keys');

/**
 * Reads, checks and imports the keys, proves each can sign (the passphrase is right), and exports the
 * public keys. Any problem is a SigningKeyError whose message is one line naming the file and the fix.
 */
export async function startSigner(opts: SignerOptions): Promise<Signer> {
  const signingDir = join(opts.storageDir, 'signing');
  const home = await createHome(signingDir);
  try {
    await startAgent(home);
    let keyFiles = opts.keys;
    if (keyFiles.length === 0) {
      const made = await ensureDefaultKey(home, signingDir);
      if (made.generated)
        opts.log?.warn({ fingerprint: made.generated, file: made.file }, 'generated the repository signing key: back up this file');
      keyFiles = [{ file: made.file }];
    }
    const keys: SigningKey[] = [];
    for (const k of keyFiles) keys.push(await readKeyFile(home, k));
    const twice = keys.find((k, i) => keys.findIndex((o) => o.fingerprint === k.fingerprint) !== i);
    if (twice)
      throw new SigningKeyError(
        `signing key ${twice.file}: key ${twice.fingerprint} is configured twice; list each key once in SIGNING_KEY_FILES`,
      );
    for (const k of keys) await gpg(['--import'], { home, input: k.armored });
    await presetPassphrases(home, keys);
    for (const k of keys) await proveSigns(home, k);
    const fingerprints = keys.map((k) => k.fingerprint);
    await exportPublicKeys(home, fingerprints, publicKeysDir(opts.storageDir));
    logKeys(opts.log, keys);
    const trusted = await loadTrustedKeys(home, opts.trustedKeys ?? []);
    if (trusted.fingerprints.length) opts.log?.info({ fingerprints: trusted.fingerprints }, 'importing bundles signed by these keys');
    return {
      fingerprints,
      signRepository: (dir, kind) => signRepository(home, keys, dir, kind),
      signFile: async (file) => {
        await presetPassphrases(home, keys);
        await gpg([...signedBy(keys), '--armor', '--detach-sign', '--output', `${file}.asc`, file], { home });
        return `${file}.asc`;
      },
      trusted,
      stop: () => stopAgent(home),
    };
  } catch (e) {
    await stopAgent(home);
    if (e instanceof ToolError && e.failure === 'spawn') {
      throw new SigningKeyError(
        `signing: ${e.tool} cannot be run (${e.stderrTail}); install GnuPG 2.2 or later (Debian: gnupg, gpg-agent)`,
      );
    }
    throw e;
  }
}

// SHA-256 said explicitly: a key whose preferences put SHA-1 first would otherwise give signatures apt refuses
const signedBy = (keys: SigningKey[]) => ['--digest-algo', 'SHA256', ...keys.flatMap((k) => ['--local-user', k.fingerprint])];

async function signRepository(home: string, keys: SigningKey[], dir: string, kind: RepoKind): Promise<void> {
  await presetPassphrases(home, keys); // the agent may have been restarted, or the presets expired
  const by = signedBy(keys);
  if (kind === 'apt') {
    const release = join(dir, 'Release');
    // two processes at once: the agent serves both, and the clear-signed form cannot yield the detached one
    // (its signed text ends before the last newline)
    await Promise.all([
      gpg([...by, '--clearsign', '--output', join(dir, 'InRelease'), release], { home }),
      gpg([...by, '--armor', '--detach-sign', '--output', join(dir, 'Release.gpg'), release], { home }),
    ]);
  } else {
    const repomd = join(dir, 'repodata', 'repomd.xml');
    await gpg([...by, '--armor', '--detach-sign', '--output', `${repomd}.asc`, repomd], { home });
  }
}

/** A test signature per key: a wrong or missing passphrase shows now, naming its file, not at the first publication. */
async function proveSigns(home: string, k: SigningKey): Promise<void> {
  try {
    await gpg(['--digest-algo', 'SHA256', '--local-user', k.fingerprint, '--detach-sign', '--armor'], {
      home,
      input: 'releasedesk signing test\n',
    });
  } catch (e) {
    const stderr = e instanceof ToolError ? e.stderrTail : String(e);
    const locked = /can't get input|Bad passphrase|No passphrase given|No pinentry/i.test(stderr);
    if (locked && k.passphraseFile) {
      throw new SigningKeyError(
        `signing key ${k.file}: the passphrase in ${k.passphraseFile} does not unlock it; put the right passphrase in that file`,
      );
    }
    if (locked) {
      throw new SigningKeyError(
        `signing key ${k.file}: it is protected by a passphrase and SIGNING_PASSPHRASE_FILES gives none for it; ` +
          'add its passphrase file at the same position as the key in SIGNING_KEY_FILES',
      );
    }
    throw new SigningKeyError(
      `signing key ${k.file}: gpg cannot sign with it (${stderr.split('\n').join(' / ')}); check the key with gpg --list-packets`,
    );
  }
}

const SOON_MS = 60 * 86_400_000;

function logKeys(log: Logger | undefined, keys: SigningKey[]): void {
  log?.info({ keys: keys.map((k) => ({ fingerprint: k.fingerprint, file: k.file })) }, 'signing repositories with these keys');
  for (const k of keys) {
    if (k.expires !== null && k.expires * 1000 - Date.now() < SOON_MS) {
      const on = new Date(k.expires * 1000).toISOString().slice(0, 10);
      log?.warn(
        { fingerprint: k.fingerprint, file: k.file, expires: on },
        'signing key expires soon: extend it or rotate to a new key (README "Signing")',
      );
    }
  }
}
