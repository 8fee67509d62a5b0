import { runTool, type ToolOptions } from '../storage/run-tool.ts';

/**
 * gpg as a child process on a private home. Every run is --batch with loopback pinentry: the service has
 * no terminal, and a run that wanted to ask for something must fail at once rather than wait for a
 * pinentry nobody answers. Passphrases never travel here: they are preset in the agent (agent.ts).
 */
const GPG_TIMEOUT_MS = 60_000;

export interface GpgRun {
  home: string;
  timeoutMs?: number;
  input?: string;
}

export function gpgEnv(home: string): NodeJS.ProcessEnv {
  // GNUPGHOME as well as --homedir: gpg-preset-passphrase and gpgconf's children read the variable
  return { ...process.env, GNUPGHOME: home, LC_ALL: 'C', LANGUAGE: 'C' };
}

export function gpg(args: string[], run: GpgRun): Promise<{ stdout: string; stderr: string }> {
  const opts: ToolOptions = { env: gpgEnv(run.home), timeoutMs: run.timeoutMs ?? GPG_TIMEOUT_MS, input: run.input };
  return runTool('gpg', ['--homedir', run.home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', ...args], opts);
}

export function gpgconf(args: string[], home: string): Promise<{ stdout: string; stderr: string }> {
  return runTool('gpgconf', ['--homedir', home, ...args], { env: gpgEnv(home), timeoutMs: GPG_TIMEOUT_MS });
}

/** One primary key (sec/pub) or subkey (ssb/sub) of a --with-colons listing. */
export interface ColonKey {
  type: 'sec' | 'pub' | 'ssb' | 'sub';
  /** '-' or a trust letter; 'e' expired, 'r' revoked, 'i' invalid, 'd' disabled */
  validity: string;
  bits: number;
  /** OpenPGP public key algorithm: 1 RSA, 17 DSA, 18 ECDH, 19 ECDSA, 22 EdDSA */
  algo: number;
  /** Unix seconds, or null for no expiry */
  expires: number | null;
  /** lower case: what this key can do; upper case (on a primary): what the whole key can do now */
  capabilities: string;
  curve: string;
  fingerprint: string;
  keygrip: string;
}

/** Primary keys with their subkeys, from `gpg --with-colons --with-fingerprint --with-keygrip`. */
export function parseColonKeys(text: string): ColonKey[][] {
  const keys: ColonKey[][] = [];
  let last: ColonKey | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const type = f[0];
    if (type === 'sec' || type === 'pub' || type === 'ssb' || type === 'sub') {
      last = {
        type,
        validity: f[1] ?? '',
        bits: Number(f[2]),
        algo: Number(f[3]),
        expires: f[6] ? Number(f[6]) : null,
        capabilities: f[11] ?? '',
        curve: f[16] ?? '',
        fingerprint: '',
        keygrip: '',
      };
      if (type === 'sec' || type === 'pub') keys.push([last]);
      else keys.at(-1)?.push(last);
    } else if (type === 'fpr' && last && !last.fingerprint) last.fingerprint = f[9] ?? '';
    else if (type === 'grp' && last && !last.keygrip) last.keygrip = f[9] ?? '';
  }
  return keys;
}
