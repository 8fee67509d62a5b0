import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../storage/run-tool.ts';
import { gpgconf, gpgEnv } from './gpg.ts';
import type { SigningKey } from './key-file.ts';
import { alive } from '../pid.ts';

/**
 * The private GNUPGHOME of one process and its gpg-agent. One home per process, not one per STORAGE_DIR:
 * the API and the worker may run as two processes on one STORAGE_DIR, and one stopping must not kill the
 * agent the other signs with. The key files stay the truth; a home only holds what was imported from them
 * at start, and is removed at stop (or, after a crash, by the next start on the same host).
 */

// The agent's sockets live in the home (no /run/user here), and a Unix socket path is at most 107 bytes.
const SOCKET_PATH_MAX = 107 - '/S.gpg-agent.browser'.length;

export async function createHome(signingDir: string): Promise<string> {
  const root = homesRoot(signingDir);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await removeStaleHomes(root);
  const home = join(root, `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(home, { mode: 0o700 });
  // Presets obey max-cache-ttl (2 h by default, checked with gpg 2.2.40): signing presets again each time.
  // The agent re-protects an imported key with its own S2K count and derives it again for every signature:
  // 0.6 s per key and signature here by default, 10 ms at the minimum count. The minimum only weakens this
  // copy, which lives in a 0700 directory for the life of the process; the configured file keeps its own.
  await writeFile(join(home, 'gpg-agent.conf'), 'allow-preset-passphrase\nallow-loopback-pinentry\ns2k-count 65536\n', { mode: 0o600 });
  return home;
}

/** STORAGE_DIR/signing/gnupg, or a directory under TMPDIR when STORAGE_DIR is too deep for the sockets. */
function homesRoot(signingDir: string): string {
  const root = join(signingDir, 'gnupg');
  const longestHome = `${root}/${hostname()}-4194304-abcdef`;
  return longestHome.length <= SOCKET_PATH_MAX ? root : join(tmpdir(), `releasedesk-gnupg-${process.getuid?.() ?? 'user'}`);
}

/** Homes of processes of this host that are gone (killed before they could clean up), and their agents. */
async function removeStaleHomes(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const m = /^(.+)-([0-9]+)-[0-9a-f]+$/.exec(name);
    if (!m || m[1] !== hostname() || alive(Number(m[2]))) continue;
    await stopAgent(join(root, name));
  }
}

export async function startAgent(home: string): Promise<void> {
  await gpgconf(['--launch', 'gpg-agent'], home);
}

/** Kills the home's agent (if any) and removes the home. */
export async function stopAgent(home: string): Promise<void> {
  await gpgconf(['--kill', 'gpg-agent'], home).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
}

let presetTool: Promise<string> | undefined;

/**
 * Puts each key's passphrase in the agent's cache for each of its keygrips, so that one gpg run can sign
 * with several keys that have different passphrases (loopback takes one passphrase per run). The
 * passphrase goes through stdin, never argv.
 */
export async function presetPassphrases(home: string, keys: SigningKey[]): Promise<void> {
  if (!keys.some((k) => k.passphrase !== undefined)) return;
  presetTool ??= gpgconf(['--list-dirs', 'libexecdir'], home).then(
    (r) => join(r.stdout.trim(), 'gpg-preset-passphrase'),
    (e) => {
      presetTool = undefined; // asked again next time
      throw e;
    },
  );
  const tool = await presetTool;
  for (const k of keys) {
    if (k.passphrase === undefined) continue;
    for (const grip of k.keygrips) {
      await runTool(tool, ['--preset', grip], { env: gpgEnv(home), timeoutMs: 30_000, input: k.passphrase });
    }
  }
}
