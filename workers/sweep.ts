import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../services/log.ts';
import { alive } from '../services/pid.ts';

/**
 * What kills leave behind, removed when a worker starts: index builds aside (`.build-<ms>-<pid>-…` below the
 * version stores) and mirror scratch trees (`STORAGE_DIR/tmp/mirror-<pid>-…`) of a process that no longer
 * runs here, and any of them or an export's scratch older than an hour. A build of a live process is left
 * alone: another worker on this machine may be publishing now.
 */
export async function sweepLeftovers(storageDir: string, log: Logger, now = Date.now()): Promise<number> {
  let removed = 0;
  const sweep = async (dir: string, name: string) => {
    const pid = /^(?:\.build-\d+|mirror)-(\d+)-/.exec(name)?.[1];
    const st = await stat(join(dir, name)).catch(() => null);
    if (!st) return;
    if ((pid && !alive(Number(pid))) || now - st.mtimeMs > HOUR) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed++;
    }
  };
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.name.startsWith('.build-')) await sweep(dir, e.name);
      else if (e.isDirectory() && depth > 0) await walk(join(dir, e.name), depth - 1);
    }
  };
  await walk(join(storageDir, 'repos', '.versions'), 3);
  await walk(join(storageDir, 'repos', 'dist', '.versions'), 5);
  const tmp = join(storageDir, 'tmp');
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    if (name.startsWith('mirror-') || name.startsWith('export-')) await sweep(tmp, name);
  }
  if (removed) log.info({ removed }, 'removed builds and scratch left by processes that ended');
  return removed;
}

const HOUR = 3_600_000;
